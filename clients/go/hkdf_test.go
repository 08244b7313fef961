package keyhook

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func span(from, to int) []byte {
	b := make([]byte, 0, to-from)
	for i := from; i < to; i++ {
		b = append(b, byte(i))
	}
	return b
}

// RFC 5869, appendix A: test cases 1 to 3 (HMAC-SHA256).
func TestHKDFMatchesRFC5869(t *testing.T) {
	cases := []struct {
		name            string
		salt, ikm, info []byte
		length          int
		okm             string
	}{
		{"basic", span(0x00, 0x0d), bytes.Repeat([]byte{0x0b}, 22), span(0xf0, 0xfa), 42,
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"longer inputs and outputs", span(0x60, 0xb0), span(0x00, 0x50), span(0xb0, 0x100), 82,
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c" +
				"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71" +
				"cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{"zero-length salt and info", nil, bytes.Repeat([]byte{0x0b}, 22), nil, 42,
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	}
	for _, c := range cases {
		if got := hkdfSHA256(c.salt, c.ikm, c.info, c.length); !bytes.Equal(got, unhex(t, c.okm)) {
			t.Errorf("%s: got %x", c.name, got)
		}
	}
	// A prefix of a longer output is the shorter output (one block and a half).
	if !bytes.Equal(hkdfSHA256(nil, []byte("k"), []byte("i"), 48)[:32], hkdfSHA256(nil, []byte("k"), []byte("i"), 32)) {
		t.Error("outputs of different lengths disagree")
	}
}
