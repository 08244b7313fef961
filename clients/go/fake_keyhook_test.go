package keyhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeyhook answers the validation routes the way Keyhook does (the signed answer format,
// the device limit, license files, floating seats, usage meters) for one license, with hooks
// that make it misbehave: an answer about something else, signed too long ago, altered after
// signing, replayed.
type fakeKeyhook struct {
	t       *testing.T
	srv     *httptest.Server
	priv    ed25519.PrivateKey
	kid     string
	product string
	key     string

	mu         sync.Mutex
	now        time.Time
	maxDevices int
	devices    []string
	status     string // active, revoked
	livemode   bool
	down       int // answer this HTTP status instead (e.g. 503)
	// edit changes an answer before it is signed; alter changes the signed body (and a
	// borrowed file's); replay answers with the previous answer's body instead.
	edit     func(a *fakeAnswer)
	alter    func(body []byte) []byte
	replay   bool
	lastBody []byte
	// Floating seats: maxConcurrent live leases of leaseSeconds (heartbeats a third of it).
	maxConcurrent int
	leaseSeconds  int
	leases        map[string]*fakeLease
	deleted       []string
	// Usage meters by name (a month's period).
	meters map[string]*fakeMeter
	// Every request as received.
	requests []fakeRequest
}

type fakeLease struct {
	device        string
	expiresAt     time.Time
	borrowedUntil time.Time // zero unless borrowed
}

type fakeMeter struct {
	limit, used int64
	keys        map[string]bool
}

// fakeRequest: a request's route ("POST /api/licenses/leases") and body.
type fakeRequest struct {
	Route          string `json:"-"`
	LicenseKey     string `json:"licenseKey"`
	ProductID      string `json:"productId"`
	DeviceID       string `json:"deviceId"`
	Nonce          string `json:"nonce"`
	TTL            int64  `json:"ttl"`
	Encrypt        bool   `json:"encrypt"`
	Seconds        int64  `json:"seconds"`
	Meter          string `json:"meter"`
	Quantity       int64  `json:"quantity"`
	IdempotencyKey string `json:"idempotencyKey"`
}

type fakeLeaseView struct {
	ID               string `json:"id"`
	ExpiresAt        string `json:"expiresAt"`
	HeartbeatSeconds int    `json:"heartbeatSeconds"`
	BorrowedUntil    string `json:"borrowedUntil,omitempty"`
}

type fakeSeats struct {
	InUse         int `json:"inUse"`
	MaxConcurrent int `json:"maxConcurrent"`
}

type fakeUsage struct {
	Meter     string `json:"meter"`
	Period    string `json:"period"`
	Used      int64  `json:"used"`
	Limit     int64  `json:"limit"`
	Remaining int64  `json:"remaining"`
	ResetsAt  string `json:"resetsAt,omitempty"`
}

type fakeLicense struct {
	ID            string  `json:"id"`
	ProductID     string  `json:"productId"`
	Status        string  `json:"status"`
	ExpiresAt     *string `json:"expiresAt"`
	MaxDevices    int     `json:"maxDevices"`
	ActiveDevices int     `json:"activeDevices"`
}

type fakeTrial struct {
	ProductID  string `json:"productId"`
	DeviceHash string `json:"deviceHash"`
	StartedAt  string `json:"startedAt"`
	ExpiresAt  string `json:"expiresAt"`
}

// fakeAnswer has the members of keyhook-answer-v2 in their order.
type fakeAnswer struct {
	Format     string         `json:"format"`
	Valid      bool           `json:"valid"`
	Code       string         `json:"code"`
	Detail     string         `json:"detail"`
	Livemode   bool           `json:"livemode"`
	ProductID  string         `json:"productId"`
	DeviceHash string         `json:"deviceHash,omitempty"`
	LicenseID  string         `json:"licenseId,omitempty"`
	License    *fakeLicense   `json:"license,omitempty"`
	Trial      *fakeTrial     `json:"trial,omitempty"`
	Lease      *fakeLeaseView `json:"lease,omitempty"`
	Seats      *fakeSeats     `json:"seats,omitempty"`
	Usage      *fakeUsage     `json:"usage,omitempty"`
	Nonce      string         `json:"nonce,omitempty"`
	SignedAt   string         `json:"signedAt"`
	Kid        string         `json:"kid"`
}

const fakeKey = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP"

func newFakeKeyhook(t *testing.T, now time.Time) *fakeKeyhook {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKeyhook{t: t, priv: priv, kid: KeyID(pub), product: "42", key: fakeKey,
		now: now, maxDevices: 2, status: "active", livemode: true,
		maxConcurrent: 1, leaseSeconds: 900, leases: map[string]*fakeLease{},
		meters: map[string]*fakeMeter{"exports": {limit: 5, keys: map[string]bool{}}}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// keySet is the published key set; retiredAt (when not "") marks the key retired.
func (f *fakeKeyhook) keySet(retiredAt string) []byte {
	k := map[string]interface{}{"kid": f.kid, "alg": "Ed25519", "status": "active",
		"publicKey": base64.StdEncoding.EncodeToString(f.priv.Public().(ed25519.PublicKey)),
		"createdAt": "2026-01-01T00:00:00.000Z"}
	if retiredAt != "" {
		k["status"], k["retiredAt"] = "retired", retiredAt
	}
	b, _ := json.Marshal(map[string]interface{}{"keys": []interface{}{k}})
	return b
}

func (f *fakeKeyhook) set(change func(f *fakeKeyhook)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeKeyhook) sign(message []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(f.priv, message))
}

func (f *fakeKeyhook) signAnswer(a *fakeAnswer) []byte {
	unsigned, err := json.Marshal(a)
	if err != nil {
		f.t.Fatal(err)
	}
	body := append(unsigned[:len(unsigned)-1], []byte(`,"signature":"`+f.sign(unsigned)+`"}`)...)
	if f.replay && f.lastBody != nil {
		body = f.lastBody
	}
	f.lastBody = body
	if f.alter != nil {
		body = f.alter(body)
	}
	return body
}

// licenseFile signs a license file for device, encrypted to the key when asked.
func (f *fakeKeyhook) licenseFile(device string, ttl time.Duration, encrypt bool) string {
	licenseID, _ := LicenseID(f.key)
	payload, _ := json.Marshal(map[string]interface{}{
		"format": FileFormat, "kid": f.kid, "tenantId": "ten_fake", "licenseId": licenseID,
		"productId": f.product, "deviceHash": DeviceHash(f.product, device), "livemode": f.livemode,
		"license":      map[string]interface{}{"status": f.status, "expiresAt": nil, "maxDevices": f.maxDevices, "maxIps": 0},
		"entitlements": []string{"pro"}, "issuedAt": FormatTime(f.now), "expiresAt": FormatTime(f.now.Add(ttl)),
	})
	enc, content := encNone, payload
	if encrypt {
		block, _ := aes.NewCipher(hkdfSHA256(nil, secretBytes(f.key), []byte(fileInfo), 32))
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, 12)
		_, _ = rand.Read(nonce)
		enc, content = encAESGCM, gcm.Seal(nonce, nonce, payload, nil)
	}
	b64 := base64.StdEncoding.EncodeToString(content)
	envelope, _ := json.Marshal(map[string]string{"format": FileFormat, "alg": "Ed25519", "kid": f.kid,
		"enc": enc, "payload": b64, "signature": f.sign([]byte(FileFormat + "." + enc + "." + f.kid + "." + b64))})
	armoured := base64.StdEncoding.EncodeToString(envelope)
	var text strings.Builder
	text.WriteString(fileBegin + "\n")
	for len(armoured) > 64 {
		text.WriteString(armoured[:64] + "\n")
		armoured = armoured[64:]
	}
	text.WriteString(armoured + "\n" + fileEnd + "\n")
	return text.String()
}

// seen: the requests received on routes ending with suffix (under f.mu).
func (f *fakeKeyhook) seen(suffix string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if strings.HasSuffix(r.Route, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeKeyhook) leaseView(id string) *fakeLeaseView {
	beat := f.leaseSeconds / 3
	if beat < 1 {
		beat = 1
	}
	le := f.leases[id]
	v := &fakeLeaseView{ID: id, ExpiresAt: FormatTime(le.expiresAt), HeartbeatSeconds: beat}
	if le.borrowedUntil.After(f.now) {
		v.BorrowedUntil = FormatTime(le.borrowedUntil)
	}
	return v
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"` + message + `"}}`))
}

func (f *fakeKeyhook) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	var req fakeRequest
	bad := json.Unmarshal(raw, &req) != nil
	req.Route = r.Method + " " + r.URL.Path
	f.requests = append(f.requests, req)
	if f.down != 0 {
		writeError(w, f.down, "unavailable", "try later")
		return
	}
	route := strings.TrimPrefix(r.URL.Path, "/api/licenses/")
	if r.Method == http.MethodDelete && strings.HasPrefix(route, "leases/") {
		// Give a seat back: 204, or 404 when no live lease has this id.
		id := strings.TrimPrefix(route, "leases/")
		le := f.leases[id]
		delete(f.leases, id)
		f.deleted = append(f.deleted, id)
		if le == nil || !le.expiresAt.After(f.now) {
			writeError(w, 404, "not_found", "no live lease has this id")
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if bad || req.ProductID == "" {
		writeError(w, 422, "validation_failed", "productId is required")
		return
	}
	a := &fakeAnswer{Format: AnswerFormat, Livemode: f.livemode, ProductID: req.ProductID,
		Nonce: req.Nonce, SignedAt: FormatTime(f.now), Kid: f.kid}
	if req.DeviceID != "" {
		a.DeviceHash = DeviceHash(req.ProductID, req.DeviceID)
	}
	answer := func(valid bool, code, detail string) {
		a.Valid, a.Code, a.Detail = valid, code, detail
	}
	licenseID, _ := LicenseID(f.key)
	switch {
	case strings.HasPrefix(route, "leases/"):
		// A lease's heartbeat or borrow: the lease id names the license (no key is sent).
		parts := strings.SplitN(strings.TrimPrefix(route, "leases/"), "/", 2)
		le := f.leases[parts[0]]
		if le == nil || len(parts) != 2 || le.device != req.DeviceID {
			writeError(w, 404, "not_found", "no such lease")
			return
		}
		a.LicenseID = licenseID
		switch {
		case f.status != "active":
			answer(false, strings.ToUpper(f.status), "The license is "+f.status+".")
		case !le.expiresAt.After(f.now):
			answer(false, "LEASE_EXPIRED", "The lease has lapsed or was released.")
		case parts[1] == "heartbeat":
			// A borrowed lease is held until the borrow ends, heartbeats or not.
			le.expiresAt = f.now.Add(time.Duration(f.leaseSeconds) * time.Second)
			if le.borrowedUntil.After(le.expiresAt) {
				le.expiresAt = le.borrowedUntil
			}
			answer(true, "VALID", "The license is valid.")
			a.Lease = f.leaseView(parts[0])
		case parts[1] == "borrow":
			ttl := time.Duration(req.Seconds) * time.Second
			le.expiresAt, le.borrowedUntil = f.now.Add(ttl), f.now.Add(ttl)
			body, _ := json.Marshal(map[string]string{"file": f.licenseFile(req.DeviceID, ttl, false),
				"expiresAt": FormatTime(f.now.Add(ttl)), "kid": f.kid})
			if f.alter != nil {
				body = f.alter(body)
			}
			_, _ = w.Write(body)
			return
		default:
			writeError(w, 404, "not_found", "no such route")
			return
		}
		a.License = &fakeLicense{ID: licenseID, ProductID: req.ProductID, Status: f.status,
			MaxDevices: f.maxDevices, ActiveDevices: len(f.devices)}
	case req.LicenseKey == "" && route == "validate":
		a.Livemode = true
		a.Trial = &fakeTrial{ProductID: req.ProductID, DeviceHash: a.DeviceHash,
			StartedAt: FormatTime(f.now), ExpiresAt: FormatTime(f.now.Add(14 * 24 * time.Hour))}
		answer(true, "TRIAL", "The trial is running.")
	default:
		a.LicenseID, _ = LicenseID(req.LicenseKey)
		if k, _ := CanonicalKey(req.LicenseKey); k != strings.ReplaceAll(f.key, "-", "") {
			answer(false, "NOT_FOUND", "No license has this key.")
			break
		}
		active := -1
		for i, d := range f.devices {
			if d == req.DeviceID {
				active = i
			}
		}
		switch {
		case route == "deactivate":
			if active >= 0 {
				f.devices = append(f.devices[:active], f.devices[active+1:]...)
			}
			answer(false, "NOT_ACTIVATED", "The device was deactivated.")
		case f.status != "active":
			answer(false, strings.ToUpper(f.status), "The license is "+f.status+".")
		case route == "leases":
			// One device holds one seat: its own live lease back, extended.
			live, mine := 0, ""
			for id, le := range f.leases {
				if le.expiresAt.After(f.now) {
					live++
					if le.device == req.DeviceID {
						mine = id
					}
				}
			}
			if mine == "" && live >= f.maxConcurrent {
				answer(false, "CONCURRENCY_LIMIT_REACHED", "Every seat of the license is in use.")
				a.Seats = &fakeSeats{InUse: live, MaxConcurrent: f.maxConcurrent}
				break
			}
			if mine == "" {
				mine = "lse_" + licenseID + "_" + NewNonce()[:20]
			}
			f.leases[mine] = &fakeLease{device: req.DeviceID, expiresAt: f.now.Add(time.Duration(f.leaseSeconds) * time.Second)}
			answer(true, "VALID", "The seat is taken.")
			a.Lease = f.leaseView(mine)
		case route == "usage":
			m := f.meters[req.Meter]
			if m == nil {
				writeError(w, 409, "conflict", "the product has no meter "+req.Meter)
				return
			}
			counted := m.keys[req.IdempotencyKey]
			fits := counted || m.used+req.Quantity <= m.limit
			if fits && !counted {
				m.used += req.Quantity
				m.keys[req.IdempotencyKey] = true
			}
			a.Usage = &fakeUsage{Meter: req.Meter, Period: "month", Used: m.used, Limit: m.limit,
				Remaining: m.limit - m.used, ResetsAt: "2026-12-01T00:00:00.000Z"}
			if fits {
				answer(true, "VALID", "The usage was recorded.")
			} else {
				answer(false, "USAGE_LIMIT_REACHED", "The quantity exceeds what remains of the meter this period.")
			}
		case active >= 0:
			answer(true, "VALID", "The license is valid.")
		case route == "validate":
			answer(false, "NOT_ACTIVATED", "The device is not activated.")
		case len(f.devices) >= f.maxDevices:
			answer(false, "DEVICE_LIMIT_REACHED", "Every seat is taken.")
		default:
			f.devices = append(f.devices, req.DeviceID)
			answer(true, "VALID", "The device was activated.")
		}
		a.License = &fakeLicense{ID: a.LicenseID, ProductID: req.ProductID, Status: f.status,
			MaxDevices: f.maxDevices, ActiveDevices: len(f.devices)}
		if a.Code == "NOT_FOUND" {
			a.License = nil
		}
	}
	if f.edit != nil {
		f.edit(a)
	}
	if route == "checkout" && a.Valid {
		ttl := 7 * 24 * time.Hour
		if req.TTL > 0 {
			ttl = time.Duration(req.TTL) * time.Second
		}
		body, _ := json.Marshal(map[string]string{"file": f.licenseFile(req.DeviceID, ttl, req.Encrypt),
			"expiresAt": FormatTime(f.now.Add(ttl)), "kid": f.kid})
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write(f.signAnswer(a))
}
