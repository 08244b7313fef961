package keyhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// MarkFormat is the clock mark's format (keyhook-clock-mark-v1), its HKDF info and the first
// part of its MAC input.
const MarkFormat = "keyhook-clock-mark-v1"

// MarkSlot: whose clock mark it is, the slot an app keeps offline proofs for. LicenseKey ""
// is a device's trial (no key).
type MarkSlot struct {
	ProductID  string
	LicenseKey string
	DeviceID   string
}

// The mark is the highest local time observed for a slot, MAC'd so that editing it shows:
//
//	{"format":"keyhook-clock-mark-v1","highWater":"2026-11-25T00:00:00.000Z","mac":"<64 hex>"}
//
// mac = HMAC-SHA256(K, "keyhook-clock-mark-v1" 0x00 productId 0x00 deviceId 0x00 highWater),
// K = HKDF-SHA256(salt empty, IKM the license key's secret bytes, info
// "keyhook-clock-mark-v1", 32 bytes). See docs/integrate.md, "Offline: the clock mark".
func markMAC(slot MarkSlot, highWater string) []byte {
	key := hkdfSHA256(nil, secretBytes(slot.LicenseKey), []byte(MarkFormat), 32)
	m := hmac.New(sha256.New, key)
	for _, part := range []string{MarkFormat, slot.ProductID, slot.DeviceID} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	m.Write([]byte(highWater))
	return m.Sum(nil)
}

// SealMark is the text to store for highWater (milliseconds kept, finer digits dropped).
func SealMark(slot MarkSlot, highWater time.Time) string {
	hw := FormatTime(highWater)
	return `{"format":"` + MarkFormat + `","highWater":"` + hw + `","mac":"` +
		hex.EncodeToString(markMAC(slot, hw)) + `"}`
}

// OpenMark is the high-water time of a stored mark, if it verifies for slot; a
// RollbackError (mark_altered) if it does not parse, has another format, or its MAC is not
// 64 hex digits of the HMAC above (edited, or copied from another slot or license).
func OpenMark(slot MarkSlot, text string) (time.Time, error) {
	altered := &RollbackError{Reason: RollbackMarkAltered}
	f := readObject("clock mark", []byte(text))
	format, highWater, mac := f.str("format"), f.str("highWater"), f.str("mac")
	if f.err != nil || format != MarkFormat || len(mac) != 64 {
		return time.Time{}, altered
	}
	tag, err := hex.DecodeString(mac)
	if err != nil || !hmac.Equal(tag, markMAC(slot, highWater)) {
		return time.Time{}, altered
	}
	at, err := parseTime("highWater", highWater)
	if err != nil {
		return time.Time{}, altered
	}
	return at, nil
}

// CheckMark is the clock check before a kept proof is trusted offline, at local time now:
// stored is the slot's mark (nil: none), hasProof whether an offline proof (license file,
// answer) is kept for the slot. It refuses a mark that does not verify (mark_altered), a clock
// behind the mark beyond tolerance (behind), and no mark while a proof is kept
// (mark_missing); otherwise it returns the mark to store now, max(highWater, now): the mark
// only moves forward.
func CheckMark(slot MarkSlot, stored *string, hasProof bool, now time.Time, tolerance time.Duration) (string, error) {
	if stored == nil {
		if hasProof {
			return "", &RollbackError{Reason: RollbackMarkMissing}
		}
		return SealMark(slot, now), nil
	}
	highWater, err := OpenMark(slot, *stored)
	if err != nil {
		return "", err
	}
	if now.Add(tolerance).Before(highWater) {
		return "", &RollbackError{Reason: RollbackBehind, HighWater: FormatTime(highWater)}
	}
	if now.After(highWater) {
		return SealMark(slot, now), nil
	}
	return SealMark(slot, highWater), nil
}
