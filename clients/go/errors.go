package keyhook

import (
	"errors"
	"fmt"
)

// The kinds of error, named the same in every Keyhook client (Kind returns them).
const (
	KindNetwork          = "network"           // Keyhook unreachable, nothing usable kept offline
	KindServer           = "server"            // Keyhook answered an HTTP error
	KindVerification     = "verification"      // an answer or file that is not trusted
	KindRollback         = "rollback"          // the clock was set back, or the clock mark deleted or edited
	KindGraceExpired     = "grace_expired"     // offline longer than the grace period
	KindRefused          = "refused"           // a license file, lease or usage record refused by Keyhook
	KindConcurrencyLimit = "concurrency_limit" // every floating seat of the license is in use
	KindUsageLimit       = "usage_limit"       // the quantity does not fit what remains of the meter
	KindTestLicense      = "test_license"      // a test license in a live build
	KindRetiredKey       = "retired_key"       // signed by a key after its retirement
)

// Why a signed answer or license file is refused: VerifyError.Reason, the names the shared
// test vectors use.
const (
	ReasonUnsigned          = "unsigned"
	ReasonMalformed         = "malformed"
	ReasonUnsupportedFormat = "unsupported_format"
	ReasonUnknownKey        = "unknown_key"
	ReasonBadPublicKey      = "bad_public_key"
	ReasonBadSignature      = "bad_signature"
	ReasonWrongProduct      = "wrong_product"
	ReasonWrongDevice       = "wrong_device"
	ReasonWrongNonce        = "wrong_nonce"
	ReasonWrongLicense      = "wrong_license"
	ReasonExpired           = "expired"
	ReasonStale             = "stale"
	ReasonNotYetValid       = "not_yet_valid"
	ReasonKeyRequired       = "key_required"
	ReasonDecrypt           = "decrypt"
	ReasonRetiredKey        = "retired_key"
	ReasonLifetimeTooLong   = "lifetime_too_long"
	ReasonTestLicense       = "test_license"
)

// VerifyError: an answer or license file that failed verification; never trusted.
type VerifyError struct {
	Reason string // one of the Reason* constants
	Detail string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return "not trusted: " + e.Reason
	}
	return "not trusted: " + e.Reason + ": " + e.Detail
}

func verifyErr(reason, format string, args ...interface{}) *VerifyError {
	return &VerifyError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Why the clock is not trusted offline: RollbackError.Reason.
const (
	RollbackBehind      = "behind"       // the clock is behind a time already observed
	RollbackMarkMissing = "mark_missing" // no clock mark, though an offline proof is kept
	RollbackMarkAltered = "mark_altered" // the mark does not verify (edited, or another slot's)
)

// RollbackError: the clock cannot be trusted offline. Kept proofs are refused until an online
// check succeeds (which restarts the clock mark).
type RollbackError struct {
	Reason    string // RollbackBehind, RollbackMarkMissing or RollbackMarkAltered
	HighWater string // the time the clock is behind (RollbackBehind)
}

func (e *RollbackError) Error() string {
	switch e.Reason {
	case RollbackBehind:
		return "the system clock was set back: it is behind " + e.HighWater + ", a time already seen"
	case RollbackMarkMissing:
		return "the system clock was set back: the clock mark is missing while an offline proof is kept"
	default:
		return "the system clock was set back: the clock mark does not verify"
	}
}

// NetworkError: Keyhook could not be reached (and no offline proof was usable).
type NetworkError struct{ Err error }

func (e *NetworkError) Error() string { return "Keyhook is unreachable: " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// ServerError: Keyhook answered an HTTP error ({"error": {"code", "message"}}).
type ServerError struct {
	Status  int
	Code    string
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("Keyhook answered %d %s: %s", e.Status, e.Code, e.Message)
}

// GraceExpiredError: offline, and the last good answer is older than the grace period.
type GraceExpiredError struct{ Since string }

func (e *GraceExpiredError) Error() string {
	return "offline since " + e.Since + ", longer than the grace period"
}

// RefusedError: Keyhook refused a license file, a lease or a usage record; Code is the signed
// answer's code (DEVICE_LIMIT_REACHED, REVOKED, NOT_FOUND, ...).
type RefusedError struct {
	Code   string
	Detail string
}

func (e *RefusedError) Error() string { return "refused: " + e.Code + ": " + e.Detail }

// ConcurrencyLimitError: every floating seat of the license is in use
// (CONCURRENCY_LIMIT_REACHED, signed, with these numbers): lease again later, or tell the user
// how many seats are taken.
type ConcurrencyLimitError struct {
	InUse         uint32
	MaxConcurrent uint32
}

func (e *ConcurrencyLimitError) Error() string {
	return fmt.Sprintf("every seat is in use (%d of %d)", e.InUse, e.MaxConcurrent)
}

// UsageLimitError: the quantity does not fit what remains of the meter this period
// (USAGE_LIMIT_REACHED, signed, with these numbers); nothing was recorded.
type UsageLimitError struct {
	Meter     string
	Used      uint64
	Limit     uint64
	Remaining uint64
}

func (e *UsageLimitError) Error() string {
	return fmt.Sprintf("the %s limit is reached (%d of %d used, %d left)", e.Meter, e.Used, e.Limit, e.Remaining)
}

// NoOfflineProofError: nothing is kept for this license and device (CheckOffline). Validate
// returns the network error instead.
type NoOfflineProofError struct{}

func (e *NoOfflineProofError) Error() string {
	return "no offline proof: nothing kept for this license and device"
}

// ConfigError: the client's settings cannot be used.
type ConfigError struct{ Detail string }

func (e *ConfigError) Error() string { return "configuration: " + e.Detail }

// CacheError: the cache directory cannot be written.
type CacheError struct{ Err error }

func (e *CacheError) Error() string { return "cache: " + e.Err.Error() }
func (e *CacheError) Unwrap() error { return e.Err }

// FingerprintError: the machine id cannot be read.
type FingerprintError struct{ Detail string }

func (e *FingerprintError) Error() string { return "device fingerprint: " + e.Detail }

// Kind is the error's kind, named the same in every Keyhook client: network, server,
// verification, rollback, grace_expired, refused, concurrency_limit, usage_limit, test_license,
// retired_key; and for errors outside those, no_offline_proof, config, cache, fingerprint, or
// "" for nil.
func Kind(err error) string {
	var (
		v  *VerifyError
		r  *RollbackError
		n  *NetworkError
		s  *ServerError
		g  *GraceExpiredError
		rf *RefusedError
		cl *ConcurrencyLimitError
		ul *UsageLimitError
		no *NoOfflineProofError
		c  *ConfigError
		ca *CacheError
		fp *FingerprintError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &v):
		switch v.Reason {
		case ReasonTestLicense:
			return KindTestLicense
		case ReasonRetiredKey:
			return KindRetiredKey
		}
		return KindVerification
	case errors.As(err, &r):
		return KindRollback
	case errors.As(err, &n):
		return KindNetwork
	case errors.As(err, &s):
		return KindServer
	case errors.As(err, &g):
		return KindGraceExpired
	case errors.As(err, &rf):
		return KindRefused
	case errors.As(err, &cl):
		return KindConcurrencyLimit
	case errors.As(err, &ul):
		return KindUsageLimit
	case errors.As(err, &no):
		return "no_offline_proof"
	case errors.As(err, &c):
		return "config"
	case errors.As(err, &ca):
		return "cache"
	case errors.As(err, &fp):
		return "fingerprint"
	}
	return "unknown"
}
