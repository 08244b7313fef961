package keyhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// RetirementTolerance: how long after its retiredAt a key's signatures are still trusted. The
// server's warm processes stop signing with a retired key within half of it.
const RetirementTolerance = 10 * time.Minute

// KeyID is the kid of a raw Ed25519 public key: hex(SHA-256(key))[:16].
func KeyID(publicKey []byte) string {
	sum := sha256.Sum256(publicKey)
	return hex.EncodeToString(sum[:8])
}

// KeySet: the tenant's Ed25519 verification keys by kid, and when a retired key stopped
// signing. Build it from the body of GET /api/tenants/{tenantId}/signing-keys (ParseKeySet),
// embedded in the app.
type KeySet struct {
	keys []knownKey
}

type knownKey struct {
	kid       string
	key       ed25519.PublicKey
	retiredAt *time.Time
}

// decodeBase64 is strict standard base64 (padded, no line breaks, no stray bits): the text
// must be exactly what encoding its bytes gives.
func decodeBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// ParseKeySet reads the JSON of GET /api/tenants/{tenantId}/signing-keys. Keys of other
// algorithms are skipped; a key whose kid is not the one its public key derives is refused.
func ParseKeySet(body []byte) (*KeySet, error) {
	var published struct {
		Keys *[]struct {
			Kid       *string `json:"kid"`
			Alg       *string `json:"alg"`
			PublicKey *string `json:"publicKey"`
			RetiredAt *string `json:"retiredAt"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &published); err != nil {
		return nil, verifyErr(ReasonMalformed, "key set: %v", err)
	}
	if published.Keys == nil {
		return nil, verifyErr(ReasonMalformed, "key set: no keys")
	}
	set := &KeySet{}
	for _, k := range *published.Keys {
		if k.Kid == nil || k.Alg == nil || k.PublicKey == nil {
			return nil, verifyErr(ReasonMalformed, "key set: a key without kid, alg or publicKey")
		}
		if *k.Alg != "Ed25519" {
			continue
		}
		kid, err := set.Add(*k.PublicKey)
		if err != nil {
			return nil, err
		}
		if kid != *k.Kid {
			return nil, verifyErr(ReasonMalformed, "key set: kid %s does not match its public key", *k.Kid)
		}
		if k.RetiredAt != nil {
			at, err := parseTime("key set: retiredAt", *k.RetiredAt)
			if err != nil {
				return nil, err
			}
			set.Retire(kid, at)
		}
	}
	return set, nil
}

// Add adds a base64 Ed25519 public key and returns its kid.
func (s *KeySet) Add(publicKeyB64 string) (string, error) {
	raw, ok := decodeBase64(strings.TrimSpace(publicKeyB64))
	if !ok || len(raw) != ed25519.PublicKeySize {
		return "", &VerifyError{Reason: ReasonBadPublicKey, Detail: "the public key is not a base64 Ed25519 key"}
	}
	kid := KeyID(raw)
	if s.find(kid) == nil {
		s.keys = append(s.keys, knownKey{kid: kid, key: ed25519.PublicKey(raw)})
	}
	return kid, nil
}

// Retire records that the key kid stopped signing at retiredAt (what the published set says
// of a retired key).
func (s *KeySet) Retire(kid string, retiredAt time.Time) {
	if k := s.find(kid); k != nil {
		at := retiredAt
		k.retiredAt = &at
	}
}

// Kids lists the key ids in the set.
func (s *KeySet) Kids() []string {
	out := make([]string, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.kid)
	}
	return out
}

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

func (s *KeySet) find(kid string) *knownKey {
	for i := range s.keys {
		if s.keys[i].kid == kid {
			return &s.keys[i]
		}
	}
	return nil
}

// verify checks a base64 Ed25519 signature over message with the key kid.
func (s *KeySet) verify(kid string, message []byte, signatureB64 string) error {
	k := s.find(kid)
	if k == nil {
		return verifyErr(ReasonUnknownKey, "signed by key %q, which is not in the key set", kid)
	}
	sig, ok := decodeBase64(signatureB64)
	if !ok || len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.key, message, sig) {
		return &VerifyError{Reason: ReasonBadSignature, Detail: "the signature does not match"}
	}
	return nil
}

// checkSignedInService: the key kid was not retired (beyond RetirementTolerance) when the
// document it signed says it was signed.
func (s *KeySet) checkSignedInService(kid, signedAt string) error {
	k := s.find(kid)
	if k == nil || k.retiredAt == nil {
		return nil
	}
	at, err := parseTime("signedAt", signedAt)
	if err != nil {
		return err
	}
	if at.After(k.retiredAt.Add(RetirementTolerance)) {
		return verifyErr(ReasonRetiredKey, "signed by key %q at %s, after the key was retired at %s",
			kid, signedAt, FormatTime(*k.retiredAt))
	}
	return nil
}
