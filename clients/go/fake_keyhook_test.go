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
// the device limit, license files) for one license, with hooks that make it misbehave: an
// answer about something else, signed too long ago, altered after signing.
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
	// edit changes an answer before it is signed; alter changes the signed body.
	edit  func(a *fakeAnswer)
	alter func(body []byte) []byte
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
	Format     string       `json:"format"`
	Valid      bool         `json:"valid"`
	Code       string       `json:"code"`
	Detail     string       `json:"detail"`
	Livemode   bool         `json:"livemode"`
	ProductID  string       `json:"productId"`
	DeviceHash string       `json:"deviceHash,omitempty"`
	LicenseID  string       `json:"licenseId,omitempty"`
	License    *fakeLicense `json:"license,omitempty"`
	Trial      *fakeTrial   `json:"trial,omitempty"`
	Nonce      string       `json:"nonce,omitempty"`
	SignedAt   string       `json:"signedAt"`
	Kid        string       `json:"kid"`
}

const fakeKey = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP"

func newFakeKeyhook(t *testing.T, now time.Time) *fakeKeyhook {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeKeyhook{t: t, priv: priv, kid: KeyID(pub), product: "42", key: fakeKey,
		now: now, maxDevices: 2, status: "active", livemode: true}
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

func (f *fakeKeyhook) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != 0 {
		w.WriteHeader(f.down)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"try later"}}`))
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var req struct {
		LicenseKey string `json:"licenseKey"`
		ProductID  string `json:"productId"`
		DeviceID   string `json:"deviceId"`
		Nonce      string `json:"nonce"`
		TTL        int64  `json:"ttl"`
		Encrypt    bool   `json:"encrypt"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || req.ProductID == "" {
		w.WriteHeader(422)
		_, _ = w.Write([]byte(`{"error":{"code":"validation_failed","message":"productId is required"}}`))
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
	route := strings.TrimPrefix(r.URL.Path, "/api/licenses/")
	switch {
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
