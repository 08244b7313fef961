package keyhook

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// AnswerFormat is the format of the answers this client verifies.
const AnswerFormat = "keyhook-answer-v2"

var signatureMember = []byte(`,"signature":"`)

// AnswerLicense: the license an answer describes.
type AnswerLicense struct {
	ID            string
	ProductID     string
	Status        string
	ExpiresAt     string // "" when the license does not expire
	MaxDevices    uint32
	ActiveDevices uint32
}

// AnswerTrial: the trial an answer describes.
type AnswerTrial struct {
	ProductID  string
	DeviceHash string
	StartedAt  string
	ExpiresAt  string
}

// AnswerLease: the floating seat a lease or heartbeat answer describes.
type AnswerLease struct {
	ID               string // lse_…: what heartbeats, borrows and releases name
	ExpiresAt        string // the seat is free from then unless a heartbeat extends it
	HeartbeatSeconds uint32 // how often to heartbeat (a third of the lease)
	BorrowedUntil    string // while borrowed: the seat is held until then; "" otherwise
}

// AnswerSeats: with CONCURRENCY_LIMIT_REACHED, the seats in use, of how many.
type AnswerSeats struct {
	InUse         uint32
	MaxConcurrent uint32
}

// Usage: a meter as a usage answer states it (with USAGE_LIMIT_REACHED, the numbers that
// refused the record).
type Usage struct {
	Meter     string
	Period    string // month, subscription or lifetime
	Used      uint64 // recorded in the current period (after this record)
	Limit     uint64
	Remaining uint64
	ResetsAt  string // when the count starts again; "" for lifetime
}

// Answer: a verified validation answer (keyhook-answer-v2). Unknown fields are ignored.
type Answer struct {
	Format     string
	Valid      bool // true only for VALID and TRIAL
	Code       string
	Detail     string
	Livemode   bool // false for licenses issued by Stripe test-mode payments
	ProductID  string
	DeviceHash string // "" when the request named no device
	LicenseID  string // "" for requests without a key
	License    *AnswerLicense
	Trial      *AnswerTrial
	Nonce      string
	SignedAt   string
	Kid        string
	// With DEVICE_LIMIT_REACHED: the license's page in the merchant's customer portal, where
	// the buyer frees a device ("" otherwise).
	ManageURL string
	// Lease and heartbeat answers: the seat (nil otherwise).
	Lease *AnswerLease
	// With CONCURRENCY_LIMIT_REACHED: the seats in use (nil otherwise).
	Seats *AnswerSeats
	// Usage answers: the meter recorded on (nil otherwise).
	Usage *Usage
	// Validation with include ["usage"]: each meter of the product (nil otherwise).
	Meters []Usage

	// As read: nil when absent (an empty member is not an absent one).
	deviceHash, licenseID, nonce *string
}

// Expected is what the caller asked; an answer about anything else is refused. An empty
// DeviceID, Nonce or LicenseKey means none was sent.
type Expected struct {
	ProductID  string
	DeviceID   string
	Nonce      string
	LicenseKey string
}

// signedParts cuts a signed body at its last `,"signature":"`: the signed message is what
// precedes it followed by `}`, the base64 signature what follows up to the final `"}`.
func signedParts(body []byte) ([]byte, string, error) {
	i := bytes.LastIndex(body, signatureMember)
	if i < 0 {
		if bytes.HasSuffix(body, []byte(`"signature":null}`)) {
			return nil, "", &VerifyError{Reason: ReasonUnsigned, Detail: "the answer carries no signature (the product is unknown to Keyhook)"}
		}
		return nil, "", verifyErr(ReasonMalformed, "no signature member")
	}
	rest := body[i+len(signatureMember):]
	if !bytes.HasSuffix(rest, []byte(`"}`)) || !utf8.Valid(rest) {
		return nil, "", &VerifyError{Reason: ReasonBadSignature, Detail: "the signature does not match"}
	}
	message := make([]byte, 0, i+1)
	message = append(message, body[:i]...)
	message = append(message, '}')
	return message, string(rest[:len(rest)-2]), nil
}

func missing(name string) error { return verifyErr(ReasonMalformed, "answer: missing %s", name) }

// VerifyAnswer checks the signature of an answer (the raw response body) against keys, its
// format, that its key was not retired before signedAt, then that it answers exactly the
// request described by expected (product, device, nonce, trial, license). The caller then
// checks the build's mode (Answer.CheckLivemode) and freshness (Answer.CheckFresh); the
// Client does all of it.
func VerifyAnswer(keys *KeySet, body []byte, expected Expected) (*Answer, error) {
	message, signature, err := signedParts(body)
	if err != nil {
		return nil, err
	}
	f := readObject("answer", message)
	format := f.optString("format")
	kid := f.optString("kid")
	if f.err != nil {
		return nil, f.err
	}
	if format == nil {
		return nil, verifyErr(ReasonUnsupportedFormat, "unsupported format %q", "keyhook-answer-v1")
	}
	if *format != AnswerFormat {
		return nil, verifyErr(ReasonUnsupportedFormat, "unsupported format %q", *format)
	}
	if kid == nil {
		return nil, verifyErr(ReasonMalformed, "answer without kid")
	}
	if err := keys.verify(*kid, message, signature); err != nil {
		return nil, err
	}
	a, err := readAnswer(f)
	if err != nil {
		return nil, err
	}
	if err := keys.checkSignedInService(a.Kid, a.SignedAt); err != nil {
		return nil, err
	}
	if err := a.check(expected); err != nil {
		return nil, err
	}
	return a, nil
}

// readAnswer: every member an answer has, of its type; absent optional members stay nil.
func readAnswer(f *fields) (*Answer, error) {
	a := &Answer{
		Format: f.str("format"), Valid: f.boolean("valid"), Code: f.str("code"),
		Detail: f.str("detail"), Livemode: f.boolean("livemode"), ProductID: f.str("productId"),
		deviceHash: f.optString("deviceHash"), licenseID: f.optString("licenseId"),
		nonce: f.optString("nonce"), SignedAt: f.str("signedAt"), Kid: f.str("kid"),
		ManageURL: deref(f.optString("manageUrl")),
	}
	if l := f.object("license"); l != nil {
		a.License = &AnswerLicense{ID: l.str("id"), ProductID: l.str("productId"),
			Status: l.str("status"), ExpiresAt: deref(l.optString("expiresAt")),
			MaxDevices: l.u32("maxDevices"), ActiveDevices: l.u32("activeDevices")}
		if l.err != nil {
			return nil, l.err
		}
	}
	if t := f.object("trial"); t != nil {
		a.Trial = &AnswerTrial{ProductID: t.str("productId"), DeviceHash: t.str("deviceHash"),
			StartedAt: t.str("startedAt"), ExpiresAt: t.str("expiresAt")}
		if t.err != nil {
			return nil, t.err
		}
	}
	if l := f.object("lease"); l != nil {
		a.Lease = &AnswerLease{ID: l.str("id"), ExpiresAt: l.str("expiresAt"),
			HeartbeatSeconds: l.u32("heartbeatSeconds"), BorrowedUntil: deref(l.optString("borrowedUntil"))}
		if l.err != nil {
			return nil, l.err
		}
	}
	if s := f.object("seats"); s != nil {
		a.Seats = &AnswerSeats{InUse: s.u32("inUse"), MaxConcurrent: s.u32("maxConcurrent")}
		if s.err != nil {
			return nil, s.err
		}
	}
	if u := f.object("usage"); u != nil {
		usage, err := readUsage(u)
		if err != nil {
			return nil, err
		}
		a.Usage = usage
	}
	if meters := f.objects("meters"); meters != nil {
		a.Meters = make([]Usage, 0, len(meters))
		for _, m := range meters {
			usage, err := readUsage(m)
			if err != nil {
				return nil, err
			}
			a.Meters = append(a.Meters, *usage)
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	a.DeviceHash, a.LicenseID, a.Nonce = deref(a.deviceHash), deref(a.licenseID), deref(a.nonce)
	return a, nil
}

func readUsage(u *fields) (*Usage, error) {
	usage := &Usage{Meter: u.str("meter"), Period: u.str("period"), Used: u.u64("used"),
		Limit: u.u64("limit"), Remaining: u.u64("remaining"), ResetsAt: deref(u.optString("resetsAt"))}
	if u.err != nil {
		return nil, u.err
	}
	return usage, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sameOptional(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// check: that this signature-checked answer answers expected.
func (a *Answer) check(e Expected) error {
	wrongProduct := func(found string) error {
		return verifyErr(ReasonWrongProduct, "it is about product %q, not %q", found, e.ProductID)
	}
	wrongDevice := &VerifyError{Reason: ReasonWrongDevice, Detail: "it is about another device"}
	wrongLicense := &VerifyError{Reason: ReasonWrongLicense, Detail: "it is about another license"}
	if a.ProductID != e.ProductID {
		return wrongProduct(a.ProductID)
	}
	var device *string
	if e.DeviceID != "" {
		h := DeviceHash(e.ProductID, e.DeviceID)
		device = &h
	}
	if !sameOptional(a.deviceHash, device) {
		return wrongDevice
	}
	if !sameOptional(a.nonce, optional(e.Nonce)) {
		return &VerifyError{Reason: ReasonWrongNonce, Detail: "it answers another request (nonce mismatch)"}
	}
	if t := a.Trial; t != nil {
		if t.ProductID != e.ProductID {
			return wrongProduct(t.ProductID)
		}
		if device == nil || t.DeviceHash != *device {
			return wrongDevice
		}
	}
	if l := a.License; l != nil {
		if l.ProductID != e.ProductID {
			return wrongProduct(l.ProductID)
		}
		if a.licenseID == nil || l.ID != *a.licenseID {
			return wrongLicense
		}
	}
	if e.LicenseKey == "" {
		if a.licenseID != nil || a.License != nil || (a.Valid && a.Trial == nil) {
			return wrongLicense
		}
		return nil
	}
	if a.Trial != nil {
		return wrongLicense
	}
	mine, isKeyhookKey := LicenseID(e.LicenseKey)
	if a.licenseID != nil && isKeyhookKey && *a.licenseID != mine {
		return wrongLicense
	}
	if a.licenseID == nil && a.Valid {
		return wrongLicense
	}
	return nil
}

// CheckLivemode: a live build (acceptsTestLicenses false) refuses a valid answer about a test
// license (livemode false). A refusal grants nothing, so it passes whatever its mode.
func (a *Answer) CheckLivemode(acceptsTestLicenses bool) error {
	if a.Valid && !a.Livemode && !acceptsTestLicenses {
		return &VerifyError{Reason: ReasonTestLicense, Detail: "it is about a test license (Stripe test mode), and this is a live build"}
	}
	return nil
}

// SignedAtTime is signedAt as a time.
func (a *Answer) SignedAtTime() (time.Time, error) { return parseTime("signedAt", a.SignedAt) }

// CheckFresh: the answer was signed at most maxAge before now and at most skew after it.
func (a *Answer) CheckFresh(now time.Time, maxAge, skew time.Duration) error {
	at, err := a.SignedAtTime()
	if err != nil {
		return err
	}
	if at.After(now.Add(skew)) {
		return verifyErr(ReasonNotYetValid, "it is dated in the future (%s): the clock is wrong or was set back", a.SignedAt)
	}
	if at.Add(maxAge).Before(now) {
		return verifyErr(ReasonStale, "it was signed at %s, too long ago", a.SignedAt)
	}
	return nil
}
