package keyhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Version of this client (sent in the User-Agent).
const Version = "0.1.0"

// maxBody bounds what is read of a response (answers are under 2 KiB, files under 4 KiB).
const maxBody = 1 << 20

// Source says where a Status comes from.
type Source int

const (
	// SourceOnline: a fresh answer from Keyhook.
	SourceOnline Source = iota
	// SourceCachedAnswer: Keyhook was unreachable; the last good answer, within the grace period.
	SourceCachedAnswer
	// SourceLicenseFile: Keyhook was unreachable (or not asked); a kept license file.
	SourceLicenseFile
)

func (s Source) String() string {
	switch s {
	case SourceOnline:
		return "online"
	case SourceCachedAnswer:
		return "cached answer"
	default:
		return "license file"
	}
}

// Status is a verified standing. Valid is true only for VALID and TRIAL.
type Status struct {
	Valid    bool
	Code     string // the answer's code (VALID, TRIAL, NOT_ACTIVATED, ...); VALID for a license file
	Detail   string
	Livemode bool // false for licenses from Stripe test-mode payments
	// With DEVICE_LIMIT_REACHED: where the buyer frees a device (the license's page in the
	// merchant's customer portal); "" otherwise.
	ManageURL string
	Source    Source
	Answer    *Answer      // the verified answer (online and cached answers)
	File      *FilePayload // the verified license file (its entitlements, expiry, limits)
}

// Offline reports whether the status comes from something kept rather than from Keyhook now.
func (s *Status) Offline() bool { return s.Source != SourceOnline }

// Has reports whether the license grants entitlement (known from a license file).
func (s *Status) Has(entitlement string) bool { return s.File != nil && s.File.Has(entitlement) }

func statusOfAnswer(a *Answer, source Source) *Status {
	return &Status{Valid: a.Valid, Code: a.Code, Detail: a.Detail, Livemode: a.Livemode, ManageURL: a.ManageURL, Source: source, Answer: a}
}

// Client is a Keyhook client for one product. It is safe for concurrent use.
type Client struct {
	config Config
	http   *http.Client
	cache  *cache
	// heartbeatUnit is what one of a lease's heartbeatSeconds lasts (a second; tests shorten it).
	heartbeatUnit time.Duration
}

// NewClient makes a client with a copy of cfg.
func NewClient(cfg *Config) (*Client, error) {
	if cfg == nil || cfg.Keys == nil || cfg.Keys.Len() == 0 {
		return nil, &ConfigError{"no key set"}
	}
	if cfg.Environment != Live && cfg.Environment != Test {
		return nil, &ConfigError{"environment is live or test, not " + string(cfg.Environment)}
	}
	c := &Client{config: *cfg, http: cfg.HTTPClient, heartbeatUnit: time.Second}
	if c.config.Clock == nil {
		c.config.Clock = time.Now
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: cfg.Timeout}
	}
	var err error
	if c.cache, err = newCache(cfg.CacheDir); err != nil {
		return nil, err
	}
	return c, nil
}

// Config is the client's settings.
func (c *Client) Config() Config { return c.config }

// NewNonce is a fresh random nonce (128 bits, hex).
func NewNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("keyhook: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func (c *Client) slot(key, deviceID string) string {
	return cacheSlot(c.config.ProductID, key, deviceID)
}

func (c *Client) markSlot(key, deviceID string) MarkSlot {
	return MarkSlot{ProductID: c.config.ProductID, LicenseKey: key, DeviceID: deviceID}
}

// observeClock is the clock check before anything kept is trusted offline: the slot's clock
// mark must verify and the clock must not be behind it (beyond ClockSkew); a missing mark is
// refused when a proof is kept (else this is the slot's first use). Advances the mark to now
// and returns now.
func (c *Client) observeClock(key, deviceID string) (time.Time, error) {
	now := c.config.Clock()
	slot := c.slot(key, deviceID)
	next, err := CheckMark(c.markSlot(key, deviceID), c.cache.mark(slot), c.cache.hasProof(slot), now, c.config.ClockSkew)
	if err != nil {
		return now, err
	}
	return now, c.cache.putMark(slot, next)
}

type response struct {
	status int
	body   []byte
}

func (c *Client) post(ctx context.Context, path string, body map[string]interface{}) (*response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, &ConfigError{err.Error()}
	}
	return c.send(ctx, http.MethodPost, path, payload)
}

// send makes one request (a JSON body unless payload is nil) and reads its response.
func (c *Client) send(ctx context.Context, method, path string, payload []byte) (*response, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.config.BaseURL+path, body)
	if err != nil {
		return nil, &ConfigError{err.Error()}
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "keyhook-client-go/"+Version)
	res, err := c.http.Do(req)
	if err != nil {
		return nil, &NetworkError{err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, &NetworkError{err}
	}
	return &response{status: res.StatusCode, body: raw}, nil
}

func serverError(r *response) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	if e.Error.Code == "" {
		e.Error.Code = "unknown"
	}
	if e.Error.Message == "" {
		e.Error.Message = "no message"
	}
	return &ServerError{Status: r.status, Code: e.Error.Code, Message: e.Error.Message}
}

func (c *Client) requestBody(key, deviceID, nonce string) map[string]interface{} {
	body := map[string]interface{}{
		"productId":   c.config.ProductID,
		"nonce":       nonce,
		"environment": string(c.config.Environment),
	}
	if key != "" {
		body["licenseKey"] = key
	}
	if deviceID != "" {
		body["deviceId"] = deviceID
	}
	return body
}

// VerifyAnswer verifies an answer to the request (key, deviceID, nonce; "" for none):
// signature (by a key of the set, not retired before signedAt), format, product, device,
// license, nonce, the build's mode (a live build refuses a valid answer about a test license),
// then freshness. A fresh answer proves the clock, so the slot's clock mark restarts at now.
// The client's own calls use it; an app that sends requests through its own HTTP stack calls
// it on the raw response body, with a NewNonce nonce.
func (c *Client) VerifyAnswer(body []byte, key, deviceID, nonce string) (*Answer, error) {
	a, err := VerifyAnswer(c.config.Keys, body, Expected{
		ProductID: c.config.ProductID, DeviceID: deviceID, Nonce: nonce, LicenseKey: key,
	})
	if err != nil {
		return nil, err
	}
	if err := a.CheckLivemode(c.config.AcceptsTestLicenses()); err != nil {
		return nil, err
	}
	now := c.config.Clock()
	if err := a.CheckFresh(now, c.config.MaxAnswerAge, c.config.ClockSkew); err != nil {
		return nil, err
	}
	if err := c.cache.putMark(c.slot(key, deviceID), SealMark(c.markSlot(key, deviceID), now)); err != nil {
		return nil, err
	}
	return a, nil
}

// call is one online call of a validation route: the verified answer and its raw body.
func (c *Client) call(ctx context.Context, path, key, deviceID string, extra map[string]interface{}) (*Answer, cachedAnswer, error) {
	nonce := NewNonce()
	body := c.requestBody(key, deviceID, nonce)
	for k, v := range extra {
		body[k] = v
	}
	res, err := c.post(ctx, path, body)
	if err != nil {
		return nil, cachedAnswer{}, err
	}
	if res.status != http.StatusOK {
		return nil, cachedAnswer{}, serverError(res)
	}
	a, err := c.VerifyAnswer(res.body, key, deviceID, nonce)
	if err != nil {
		return nil, cachedAnswer{}, err
	}
	return a, cachedAnswer{Body: string(res.body), Nonce: nonce}, nil
}

// remember keeps a good answer for offline use, or forgets the proofs of a license Keyhook
// just called invalid (so a revoked license cannot run on its old file).
func (c *Client) remember(slot string, a *Answer, kept cachedAnswer) error {
	if a.Valid {
		return c.cache.putAnswer(slot, kept)
	}
	c.cache.forget(slot)
	return nil
}

// Validate asks POST /api/licenses/validate for the key's standing for this product on
// deviceID (key "": the device's trial). When Keyhook cannot be reached (a network error or a
// 5xx), it falls back to CheckOffline; with nothing kept, the network (or server) error is
// returned.
func (c *Client) Validate(ctx context.Context, key, deviceID string) (*Status, error) {
	a, kept, err := c.call(ctx, "/api/licenses/validate", key, deviceID, nil)
	if err == nil {
		if err := c.remember(c.slot(key, deviceID), a, kept); err != nil {
			return nil, err
		}
		return statusOfAnswer(a, SourceOnline), nil
	}
	var network *NetworkError
	var server *ServerError
	if errors.As(err, &network) || (errors.As(err, &server) && server.Status >= 500) {
		s, offline := c.CheckOffline(key, deviceID)
		var none *NoOfflineProofError
		if errors.As(offline, &none) {
			return nil, err
		}
		return s, offline
	}
	return nil, err
}

// Activate records deviceID on the license (POST /api/licenses/activate); deviceName is
// optional ("" for none).
func (c *Client) Activate(ctx context.Context, key, deviceID, deviceName string) (*Status, error) {
	var extra map[string]interface{}
	if deviceName != "" {
		extra = map[string]interface{}{"deviceName": deviceName}
	}
	a, kept, err := c.call(ctx, "/api/licenses/activate", key, deviceID, extra)
	if err != nil {
		return nil, err
	}
	if err := c.remember(c.slot(key, deviceID), a, kept); err != nil {
		return nil, err
	}
	return statusOfAnswer(a, SourceOnline), nil
}

// Deactivate frees the device's seat (POST /api/licenses/deactivate) and forgets its offline
// proofs.
func (c *Client) Deactivate(ctx context.Context, key, deviceID string) (*Status, error) {
	a, _, err := c.call(ctx, "/api/licenses/deactivate", key, deviceID, nil)
	if err != nil {
		return nil, err
	}
	c.cache.forget(c.slot(key, deviceID))
	return statusOfAnswer(a, SourceOnline), nil
}

// CheckoutFile activates deviceID and returns its verified license file (POST
// /api/licenses/checkout), also kept for CheckOffline. ttl is the file's lifetime (0: the
// product's default); encrypt encrypts the file to the license key. A refusal is a
// RefusedError with the signed answer's code (DEVICE_LIMIT_REACHED, REVOKED, ...).
func (c *Client) CheckoutFile(ctx context.Context, key, deviceID string, ttl time.Duration, encrypt bool) (string, *FilePayload, error) {
	nonce := NewNonce()
	body := c.requestBody(key, deviceID, nonce)
	if ttl > 0 {
		body["ttl"] = int64(ttl / time.Second)
	}
	body["encrypt"] = encrypt
	res, err := c.post(ctx, "/api/licenses/checkout", body)
	if err != nil {
		return "", nil, err
	}
	return c.fileAnswer("checkout", res, key, deviceID, nonce)
}

// fileAnswer: a route's {file} answer (checkout, borrow): the verified file, or the refusal's
// verified signed answer returned as a RefusedError.
func (c *Client) fileAnswer(what string, res *response, key, deviceID, nonce string) (string, *FilePayload, error) {
	if res.status != http.StatusOK {
		return "", nil, serverError(res)
	}
	f := readObject(what, res.body)
	text := f.optString("file")
	if f.err != nil {
		return "", nil, f.err
	}
	if text == nil {
		// Refused: the signed answer says why.
		a, err := c.VerifyAnswer(res.body, key, deviceID, nonce)
		if err != nil {
			return "", nil, err
		}
		if !a.Valid {
			c.cache.forget(c.slot(key, deviceID))
		}
		return "", nil, &RefusedError{Code: a.Code, Detail: a.Detail}
	}
	// A file carries no nonce, so it proves nothing about the clock: it is checked against the
	// mark like any file (after a rollback, validate online first).
	p, err := c.VerifyFile(*text, key, deviceID)
	if err != nil {
		return "", nil, err
	}
	return *text, p, nil
}

// VerifyFile verifies a license file offline, after the clock check (the slot's clock mark):
// signature (by a key of the set, not retired before issuedAt), lifetime, product, device,
// issue and expiry times, and the build's mode. key decrypts encrypted files. The file is kept
// for CheckOffline unless a file issued later is kept already.
func (c *Client) VerifyFile(text, key, deviceID string) (*FilePayload, error) {
	now, err := c.observeClock(key, deviceID)
	if err != nil {
		return nil, err
	}
	p, err := c.checkFile(text, key, deviceID, now)
	if err != nil {
		return nil, err
	}
	slot := c.slot(key, deviceID)
	if kept, ok := c.cache.file(slot); ok {
		if k, err := VerifyLicenseFile(c.config.Keys, kept, key); err == nil {
			keptAt, err1 := parseTime("issuedAt", k.IssuedAt)
			newAt, err2 := parseTime("issuedAt", p.IssuedAt)
			if err1 == nil && err2 == nil && keptAt.After(newAt) {
				return p, nil
			}
		}
	}
	return p, c.cache.putFile(slot, text)
}

// checkFile: a license file's own checks at now (no clock mark).
func (c *Client) checkFile(text, key, deviceID string, now time.Time) (*FilePayload, error) {
	p, err := VerifyLicenseFile(c.config.Keys, text, key)
	if err != nil {
		return nil, err
	}
	if err := p.Check(c.config.ProductID, deviceID, now, c.config.ClockSkew); err != nil {
		return nil, err
	}
	if err := p.CheckLivemode(c.config.AcceptsTestLicenses()); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckOffline is the standing without Keyhook: after the clock check (the slot's clock
// mark), the kept license file if it is still valid, else the last good answer if it is
// within the grace period. Both are verified again.
func (c *Client) CheckOffline(key, deviceID string) (*Status, error) {
	slot := c.slot(key, deviceID)
	if !c.cache.hasProof(slot) {
		return nil, &NoOfflineProofError{}
	}
	now, err := c.observeClock(key, deviceID)
	if err != nil {
		return nil, err
	}
	var fileErr error
	if text, ok := c.cache.file(slot); ok {
		p, err := c.checkFile(text, key, deviceID, now)
		if err == nil {
			return &Status{Valid: true, Code: "VALID", Detail: "The license file is valid.",
				Livemode: p.Livemode, Source: SourceLicenseFile, File: p}, nil
		}
		fileErr = err
	}
	kept, ok := c.cache.answer(slot)
	if !ok {
		if fileErr != nil {
			return nil, fileErr
		}
		return nil, &NoOfflineProofError{}
	}
	a, err := VerifyAnswer(c.config.Keys, []byte(kept.Body), Expected{
		ProductID: c.config.ProductID, DeviceID: deviceID, Nonce: kept.Nonce, LicenseKey: key,
	})
	if err != nil {
		return nil, err
	}
	if err := a.CheckLivemode(c.config.AcceptsTestLicenses()); err != nil {
		return nil, err
	}
	signedAt, err := a.SignedAtTime()
	if err != nil {
		return nil, err
	}
	if signedAt.After(now.Add(c.config.ClockSkew)) {
		return nil, &RollbackError{Reason: RollbackBehind, HighWater: a.SignedAt}
	}
	if signedAt.Add(c.config.Grace).Before(now) {
		return nil, &GraceExpiredError{Since: a.SignedAt}
	}
	// What the answer said ends on its own: a trial, a license's expiry.
	var ends []string
	if a.Trial != nil {
		ends = append(ends, a.Trial.ExpiresAt)
	}
	if a.License != nil && a.License.ExpiresAt != "" {
		ends = append(ends, a.License.ExpiresAt)
	}
	for _, end := range ends {
		at, err := parseTime("expiresAt", end)
		if err != nil {
			return nil, err
		}
		if !at.After(now) {
			return nil, verifyErr(ReasonExpired, "it expired at %s", end)
		}
	}
	return statusOfAnswer(a, SourceCachedAnswer), nil
}
