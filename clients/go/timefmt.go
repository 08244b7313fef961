package keyhook

import "time"

// timeLayout is how Keyhook writes times: RFC 3339 in UTC with exactly three fraction digits
// and Z (Go's formatting truncates finer digits, as Keyhook does).
const timeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t the way Keyhook does (2026-11-24T10:00:00.000Z).
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads an RFC 3339 timestamp of a signed document.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, verifyErr(ReasonMalformed, "%s is not an RFC 3339 timestamp", field)
	}
	return t, nil
}
