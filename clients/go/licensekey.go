package keyhook

import (
	"crypto/sha256"
	"strings"
	"unicode"
)

// Keyhook license keys are 25 Crockford base32 symbols, shown in five groups of five. Input is
// lenient: case, hyphens and spaces are ignored, I and L read as 1, O as 0.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// CanonicalKey is the canonical form of a Keyhook key (25 uppercase symbols, no hyphens), and
// false for text that is not one (keys imported from another system may have any shape).
func CanonicalKey(input string) (string, bool) {
	var b strings.Builder
	for _, r := range input {
		if r == '-' || unicode.IsSpace(r) {
			continue
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		switch {
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'O':
			r = '0'
		case r == 'U':
			return "", false
		case (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z'):
		default:
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != 25 {
		return "", false
	}
	return b.String(), true
}

// LicenseID is the license id a Keyhook key names: "lic_" + lowercase Crockford base32 of the
// first 16 bytes of SHA-256 of the canonical key; false when the text is not a Keyhook key.
func LicenseID(input string) (string, bool) {
	key, ok := CanonicalKey(input)
	if !ok {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	return "lic_" + strings.ToLower(crockfordEncode(sum[:16])), true
}

// secretBytes is what a license file's encryption key and the clock mark's MAC key are derived
// from: the canonical key for Keyhook keys, else the key as given, trimmed ("" for a trial).
func secretBytes(licenseKey string) []byte {
	if key, ok := CanonicalKey(licenseKey); ok {
		return []byte(key)
	}
	return []byte(strings.TrimSpace(licenseKey))
}

func crockfordEncode(data []byte) string {
	var b strings.Builder
	var buffer uint32
	bits := 0
	for _, c := range data {
		buffer = buffer<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			b.WriteByte(crockford[(buffer>>uint(bits))&0x1f])
		}
	}
	if bits > 0 {
		b.WriteByte(crockford[(buffer<<uint(5-bits))&0x1f])
	}
	return b.String()
}
