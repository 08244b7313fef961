package keyhook

import (
	"crypto/aes"
	"crypto/cipher"
	"strings"
	"time"
	"unicode"
)

// License files (keyhook-license-file-v1): an armoured envelope
// {"format","alg":"Ed25519","kid","enc","payload","signature"} whose signature covers
// "keyhook-license-file-v1.<enc>.<kid>.<payload>" (the base64 text as it stands), so it is
// checked before anything is decrypted or parsed. Encrypted files ("aes-256-gcm") carry
// nonce (12 bytes) || ciphertext || tag under HKDF-SHA256(salt empty, IKM the license key's
// secret bytes, info "keyhook-license-file-v1/aes-256-gcm", 32 bytes).
const (
	FileFormat = "keyhook-license-file-v1"
	fileBegin  = "-----BEGIN KEYHOOK LICENSE FILE-----"
	fileEnd    = "-----END KEYHOOK LICENSE FILE-----"
	encNone    = "none"
	encAESGCM  = "aes-256-gcm"
	fileInfo   = "keyhook-license-file-v1/aes-256-gcm"
)

// MaxFileLifetime: the longest life of a license file (expiresAt - issuedAt), the server's
// largest TTL and how long a retired key stays published. A file claiming more is refused, so
// a key leaked before its retirement cannot sign a back-dated file that outlives it.
const MaxFileLifetime = 366 * 24 * time.Hour

// FileLicense: the license as of the file's issue.
type FileLicense struct {
	Status     string
	ExpiresAt  string // "" when the license is perpetual
	MaxDevices uint32
	MaxIps     uint32
}

// FilePayload: what a verified license file says.
type FilePayload struct {
	Format       string
	Kid          string
	TenantID     string
	LicenseID    string
	ProductID    string
	DeviceHash   string
	Livemode     bool
	License      FileLicense
	Entitlements []string // the product's entitlements (feature names the merchant defines)
	IssuedAt     string
	ExpiresAt    string // when the file stops being valid, whatever the license's own expiry
}

// Has reports whether the product grants entitlement.
func (p *FilePayload) Has(entitlement string) bool {
	for _, e := range p.Entitlements {
		if e == entitlement {
			return true
		}
	}
	return false
}

// VerifyLicenseFile checks a license file's signature against keys and returns its payload,
// decrypted with licenseKey when the file is encrypted ("" when there is none). It also
// refuses a file signed by a key after its retirement and a file that claims to live longer
// than MaxFileLifetime. The caller then checks what it is about (FilePayload.Check,
// FilePayload.CheckLivemode); the Client does all of it, after the clock check.
func VerifyLicenseFile(keys *KeySet, text, licenseKey string) (*FilePayload, error) {
	trimmed := strings.TrimSpace(text)
	if !strings.HasPrefix(trimmed, fileBegin) || !strings.HasSuffix(trimmed, fileEnd) ||
		len(trimmed) < len(fileBegin)+len(fileEnd) {
		return nil, verifyErr(ReasonMalformed, "not a Keyhook license file")
	}
	inner := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, trimmed[len(fileBegin):len(trimmed)-len(fileEnd)])
	raw, ok := decodeBase64(inner)
	if !ok {
		return nil, verifyErr(ReasonMalformed, "license file: bad base64")
	}
	env := readObject("license file", raw)
	format, alg, kid := env.str("format"), env.str("alg"), env.str("kid")
	enc, payloadB64, signature := env.str("enc"), env.str("payload"), env.str("signature")
	if env.err != nil {
		return nil, env.err
	}
	if format != FileFormat {
		return nil, verifyErr(ReasonUnsupportedFormat, "unsupported format %q", format)
	}
	if alg != "Ed25519" {
		return nil, verifyErr(ReasonMalformed, "license file: algorithm %s", alg)
	}
	signingInput := FileFormat + "." + enc + "." + kid + "." + payloadB64
	if err := keys.verify(kid, []byte(signingInput), signature); err != nil {
		return nil, err
	}
	sealed, ok := decodeBase64(payloadB64)
	if !ok {
		return nil, verifyErr(ReasonMalformed, "license file: bad payload base64")
	}
	var plain []byte
	switch enc {
	case encNone:
		plain = sealed
	case encAESGCM:
		if licenseKey == "" {
			return nil, &VerifyError{Reason: ReasonKeyRequired, Detail: "the file is encrypted: the license key is needed to read it"}
		}
		var err error
		if plain, err = decryptFile(sealed, licenseKey); err != nil {
			return nil, err
		}
	default:
		return nil, verifyErr(ReasonMalformed, "license file: encryption %s", enc)
	}
	p, err := readPayload(plain)
	if err != nil {
		return nil, err
	}
	if p.Format != FileFormat {
		return nil, verifyErr(ReasonUnsupportedFormat, "unsupported format %q", p.Format)
	}
	if p.Kid != kid {
		return nil, verifyErr(ReasonMalformed, "license file: payload and envelope name different keys")
	}
	if err := keys.checkSignedInService(p.Kid, p.IssuedAt); err != nil {
		return nil, err
	}
	issued, err := parseTime("issuedAt", p.IssuedAt)
	if err != nil {
		return nil, err
	}
	expires, err := parseTime("expiresAt", p.ExpiresAt)
	if err != nil {
		return nil, err
	}
	if expires.Sub(issued) > MaxFileLifetime {
		return nil, verifyErr(ReasonLifetimeTooLong, "the file claims to live from %s to %s, longer than 366 days", p.IssuedAt, p.ExpiresAt)
	}
	return p, nil
}

func decryptFile(sealed []byte, licenseKey string) ([]byte, error) {
	failed := &VerifyError{Reason: ReasonDecrypt, Detail: "the file does not decrypt with this license key"}
	if len(sealed) < 12+16 {
		return nil, failed
	}
	block, err := aes.NewCipher(hkdfSHA256(nil, secretBytes(licenseKey), []byte(fileInfo), 32))
	if err != nil {
		return nil, failed
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, failed
	}
	plain, err := gcm.Open(nil, sealed[:12], sealed[12:], nil)
	if err != nil {
		return nil, failed
	}
	return plain, nil
}

func readPayload(plain []byte) (*FilePayload, error) {
	f := readObject("license file payload", plain)
	p := &FilePayload{
		Format: f.str("format"), Kid: f.str("kid"), TenantID: f.str("tenantId"),
		LicenseID: f.str("licenseId"), ProductID: f.str("productId"),
		DeviceHash: f.str("deviceHash"), Livemode: f.boolean("livemode"),
		Entitlements: f.strings("entitlements"), IssuedAt: f.str("issuedAt"),
		ExpiresAt: f.str("expiresAt"),
	}
	l := f.object("license")
	f.required("license", l != nil)
	if f.err != nil {
		return nil, f.err
	}
	p.License = FileLicense{Status: l.str("status"), ExpiresAt: deref(l.optString("expiresAt")),
		MaxDevices: l.u32("maxDevices"), MaxIps: l.u32("maxIps")}
	if l.err != nil {
		return nil, l.err
	}
	if p.Entitlements == nil {
		p.Entitlements = []string{}
	}
	return p, nil
}

// Check: the file is for productID on deviceID, issued no later than now + skew, and neither
// the file nor the license has expired at now.
func (p *FilePayload) Check(productID, deviceID string, now time.Time, skew time.Duration) error {
	if p.ProductID != productID {
		return verifyErr(ReasonWrongProduct, "it is about product %q, not %q", p.ProductID, productID)
	}
	if p.DeviceHash != DeviceHash(productID, deviceID) {
		return &VerifyError{Reason: ReasonWrongDevice, Detail: "it is about another device"}
	}
	issued, err := parseTime("issuedAt", p.IssuedAt)
	if err != nil {
		return err
	}
	if issued.After(now.Add(skew)) {
		return verifyErr(ReasonNotYetValid, "it is dated in the future (%s): the clock is wrong or was set back", p.IssuedAt)
	}
	expires, err := parseTime("expiresAt", p.ExpiresAt)
	if err != nil {
		return err
	}
	if !expires.After(now) {
		return verifyErr(ReasonExpired, "it expired at %s", p.ExpiresAt)
	}
	if p.License.ExpiresAt != "" {
		ends, err := parseTime("license.expiresAt", p.License.ExpiresAt)
		if err != nil {
			return err
		}
		if !ends.After(now) {
			return verifyErr(ReasonExpired, "it expired at %s", p.License.ExpiresAt)
		}
	}
	return nil
}

// CheckLivemode: a live build (acceptsTestLicenses false) refuses the file of a test license.
func (p *FilePayload) CheckLivemode(acceptsTestLicenses bool) error {
	if !p.Livemode && !acceptsTestLicenses {
		return &VerifyError{Reason: ReasonTestLicense, Detail: "it is about a test license (Stripe test mode), and this is a live build"}
	}
	return nil
}
