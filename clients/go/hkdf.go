package keyhook

import (
	"crypto/hmac"
	"crypto/sha256"
)

// hkdfSHA256 is HKDF (RFC 5869) with HMAC-SHA256: extract with salt (a string of zeros when
// empty), then expand to length bytes (at most 255 * 32) with info. Go 1.19's standard
// library has no crypto/hkdf; this is the whole algorithm, checked against RFC 5869's test
// vectors (hkdf_test.go).
func hkdfSHA256(salt, ikm, info []byte, length int) []byte {
	if length < 0 || length > 255*sha256.Size {
		panic("hkdf: invalid output length")
	}
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	extract := hmac.New(sha256.New, salt)
	extract.Write(ikm)
	prk := extract.Sum(nil)

	out := make([]byte, 0, length+sha256.Size)
	var block []byte
	for counter := byte(1); len(out) < length; counter++ {
		expand := hmac.New(sha256.New, prk)
		expand.Write(block)
		expand.Write(info)
		expand.Write([]byte{counter})
		block = expand.Sum(nil)
		out = append(out, block...)
	}
	return out[:length]
}
