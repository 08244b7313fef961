package keyhook

import "context"

// UsageOptions: what RecordUsage may add to a record.
type UsageOptions struct {
	// IdempotencyKey names the record: Keyhook counts it once however often it is sent (1–64
	// printable ASCII characters, no spaces). "": a fresh key, so each call counts. To make
	// retries safe, make one per unit of work and send it again when you retry that work.
	IdempotencyKey string
	// DeviceID: the device recording ("" for none); echoed as deviceHash, and verified.
	DeviceID string
}

// RecordUsage records quantity (1 to 10^12) on the product's meter for the license (POST
// /api/licenses/usage; opts may be nil) and returns the verified usage: the meter's period,
// used (after this record), limit, remaining and resetsAt. A quantity that does not fit what
// remains is a *UsageLimitError with the signed numbers (nothing recorded); any other refusal
// (REVOKED, NOT_FOUND, ...) a *RefusedError with the signed answer's code. A meter the product
// does not define is a *ServerError (409 conflict).
func (c *Client) RecordUsage(ctx context.Context, key, meter string, quantity uint64, opts *UsageOptions) (*Usage, error) {
	var o UsageOptions
	if opts != nil {
		o = *opts
	}
	if o.IdempotencyKey == "" {
		o.IdempotencyKey = NewNonce()
	}
	extra := map[string]interface{}{"meter": meter, "quantity": quantity, "idempotencyKey": o.IdempotencyKey}
	a, _, err := c.call(ctx, "/api/licenses/usage", key, o.DeviceID, extra)
	if err != nil {
		return nil, err
	}
	if a.Valid {
		if a.Usage == nil {
			return nil, verifyErr(ReasonMalformed, "a usage answer without its usage")
		}
		return a.Usage, nil
	}
	if a.Code == "USAGE_LIMIT_REACHED" && a.Usage != nil {
		u := a.Usage
		return nil, &UsageLimitError{Meter: u.Meter, Used: u.Used, Limit: u.Limit, Remaining: u.Remaining}
	}
	return nil, &RefusedError{Code: a.Code, Detail: a.Detail}
}
