package keyhook

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

// testbed: a fake Keyhook and clients that share its clock and one cache directory.
type testbed struct {
	t    *testing.T
	kh   *fakeKeyhook
	dir  string
	mu   sync.Mutex
	now  time.Time
	keys []byte
}

func newTestbed(t *testing.T) *testbed {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	kh := newFakeKeyhook(t, now)
	return &testbed{t: t, kh: kh, dir: t.TempDir(), now: now, keys: kh.keySet("")}
}

// setClock moves the app's clock; Keyhook's clock follows unless the app's is set apart.
func (b *testbed) setClock(at time.Time, keyhookToo bool) {
	b.mu.Lock()
	b.now = at
	b.mu.Unlock()
	if keyhookToo {
		b.kh.set(func(f *fakeKeyhook) { f.now = at })
	}
}

func (b *testbed) client(change func(*Config)) *Client {
	b.t.Helper()
	cfg, err := NewConfig(b.kh.srv.URL, "42", b.keys)
	if err != nil {
		b.t.Fatal(err)
	}
	cfg.CacheDir = b.dir
	cfg.Clock = func() time.Time {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.now
	}
	if change != nil {
		change(cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// offline is a client whose Keyhook is unreachable (nothing listens on port 9).
func (b *testbed) offline() *Client {
	return b.client(func(c *Config) { c.BaseURL = "http://127.0.0.1:9" })
}

func (b *testbed) markPath(key, device string) string {
	return filepath.Join(b.dir, "mark-"+cacheSlot("42", key, device)+".json")
}

func expectKind(t *testing.T, err error, kind string) {
	t.Helper()
	if Kind(err) != kind {
		t.Fatalf("got %q (%v), want %s", Kind(err), err, kind)
	}
}

func expectReason(t *testing.T, err error, reason string) {
	t.Helper()
	var v *VerifyError
	if !errors.As(err, &v) || v.Reason != reason {
		t.Fatalf("got %v, want verification failure %s", err, reason)
	}
}

func expectRollback(t *testing.T, err error, reason string) {
	t.Helper()
	var r *RollbackError
	if !errors.As(err, &r) || r.Reason != reason {
		t.Fatalf("got %v, want rollback %s", err, reason)
	}
	expectKind(t, err, KindRollback)
}

func TestValidateActivateDeactivateAgainstKeyhook(t *testing.T) {
	b := newTestbed(t)
	c := b.client(nil)
	a, bDev, cDev := DeviceIDFrom("42", "dev-A"), DeviceIDFrom("42", "dev-B"), DeviceIDFrom("42", "dev-C")

	s, err := c.Validate(ctx, fakeKey, a)
	if err != nil || s.Valid || s.Code != "NOT_ACTIVATED" || s.Offline() {
		t.Fatalf("validate before activation: %+v %v", s, err)
	}
	for _, d := range []string{a, bDev} {
		if s, err = c.Activate(ctx, fakeKey, d, "laptop"); err != nil || !s.Valid || s.Code != "VALID" {
			t.Fatalf("activate: %+v %v", s, err)
		}
	}
	if s, err = c.Activate(ctx, fakeKey, cDev, ""); err != nil || s.Valid || s.Code != "DEVICE_LIMIT_REACHED" {
		t.Fatalf("third device: %+v %v", s, err)
	}
	if s, err = c.Deactivate(ctx, fakeKey, bDev); err != nil || s.Valid || s.Code != "NOT_ACTIVATED" {
		t.Fatalf("deactivate: %+v %v", s, err)
	}
	if s, err = c.Activate(ctx, fakeKey, cDev, ""); err != nil || !s.Valid {
		t.Fatalf("a freed seat: %+v %v", s, err)
	}
	s, err = c.Validate(ctx, fakeKey, a)
	if err != nil || !s.Valid || s.Source != SourceOnline || s.Answer.License.ActiveDevices != 2 {
		t.Fatalf("validate: %+v %v", s, err)
	}
	// Without a key: the device's trial, verified as a trial of this product and device.
	if s, err = c.Validate(ctx, "", DeviceIDFrom("42", "dev-D")); err != nil || !s.Valid || s.Code != "TRIAL" || s.Answer.Trial == nil {
		t.Fatalf("trial: %+v %v", s, err)
	}
	// A key Keyhook does not know.
	if s, err = c.Validate(ctx, "ABCDE-FGHJK-MNPQR-STVWX-YZ012", a); err != nil || s.Valid || s.Code != "NOT_FOUND" {
		t.Fatalf("unknown key: %+v %v", s, err)
	}
}

func TestEachAnswerIsBoundToItsRequest(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(a *fakeAnswer)
		alter  func([]byte) []byte
		reason string
	}{
		{"nonce mismatch (a replayed answer)", func(a *fakeAnswer) { a.Nonce = "an-old-nonce" }, nil, ReasonWrongNonce},
		{"no nonce echoed", func(a *fakeAnswer) { a.Nonce = "" }, nil, ReasonWrongNonce},
		{"another product", func(a *fakeAnswer) { a.ProductID = "43" }, nil, ReasonWrongProduct},
		{"another product's license", func(a *fakeAnswer) { a.License.ProductID = "43" }, nil, ReasonWrongProduct},
		{"another device", func(a *fakeAnswer) { a.DeviceHash = DeviceHash("42", "someone-else") }, nil, ReasonWrongDevice},
		{"no device", func(a *fakeAnswer) { a.DeviceHash = "" }, nil, ReasonWrongDevice},
		{"another license", func(a *fakeAnswer) { a.LicenseID, a.License.ID = "lic_other", "lic_other" }, nil, ReasonWrongLicense},
		{"stale", func(a *fakeAnswer) { a.SignedAt = "2026-11-24T09:54:59.000Z" }, nil, ReasonStale},
		{"from the future", func(a *fakeAnswer) { a.SignedAt = "2026-11-24T10:05:01.000Z" }, nil, ReasonNotYetValid},
		{"tampered body", nil, func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"maxDevices":2`, `"maxDevices":9`, 1))
		}, ReasonBadSignature},
		{"signature cut", nil, func(b []byte) []byte { return b[:len(b)-10] }, ReasonBadSignature},
		{"no signature", nil, func(b []byte) []byte {
			return append(b[:strings.LastIndex(string(b), `,"signature":"`)], '}')
		}, ReasonMalformed},
		{"old format", func(a *fakeAnswer) { a.Format = "keyhook-answer-v1" }, nil, ReasonUnsupportedFormat},
		{"unsigned", nil, func(b []byte) []byte {
			return append(b[:strings.LastIndex(string(b), `,"signature":"`)], []byte(`,"signature":null}`)...)
		}, ReasonUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestbed(t)
			c := b.client(nil)
			dev := DeviceIDFrom("42", "dev-A")
			if _, err := c.Activate(ctx, fakeKey, dev, ""); err != nil {
				t.Fatal(err)
			}
			b.kh.set(func(f *fakeKeyhook) { f.edit, f.alter = tc.edit, tc.alter })
			_, err := c.Validate(ctx, fakeKey, dev)
			expectReason(t, err, tc.reason)
			expectKind(t, err, KindVerification)
		})
	}
}

func TestALiveBuildRefusesATestLicense(t *testing.T) {
	b := newTestbed(t)
	b.kh.set(func(f *fakeKeyhook) { f.livemode = false })
	dev := DeviceIDFrom("42", "dev-A")
	_, err := b.client(nil).Activate(ctx, fakeKey, dev, "")
	expectReason(t, err, ReasonTestLicense)
	expectKind(t, err, KindTestLicense)
	s, err := b.client(func(c *Config) { c.Environment = Test }).Activate(ctx, fakeKey, dev, "")
	if err != nil || !s.Valid || s.Livemode {
		t.Fatalf("a test build: %+v %v", s, err)
	}
	// A live build of a product that accepts test licenses.
	s, err = b.client(func(c *Config) { c.AcceptTestLicenses = true }).Validate(ctx, fakeKey, dev)
	if err != nil || !s.Valid {
		t.Fatalf("acceptTestLicenses: %+v %v", s, err)
	}
	// Offline too: the kept test license's file is refused by a live build.
	if _, _, err := b.client(func(c *Config) { c.Environment = Test }).CheckoutFile(ctx, fakeKey, dev, 0, false); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectKind(t, err, KindTestLicense)
}

func TestARetiredKeyIsTrustedOnlyOnWhatItSignedBeforeItsRetirement(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	b.keys = b.kh.keySet("2026-11-24T09:50:00.000Z") // retired 10 minutes ago: within the tolerance
	if _, err := b.client(nil).Activate(ctx, fakeKey, dev, ""); err != nil {
		t.Fatal(err)
	}
	b.keys = b.kh.keySet("2026-11-24T09:49:59.000Z")
	_, err := b.client(nil).Validate(ctx, fakeKey, dev)
	expectReason(t, err, ReasonRetiredKey)
	expectKind(t, err, KindRetiredKey)
}

func TestNetworkFailureFallsBackToTheLastAnswerWithinTheGracePeriod(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	// Nothing kept: the network error itself.
	_, err := b.offline().Validate(ctx, fakeKey, dev)
	expectKind(t, err, KindNetwork)
	if _, err := b.client(nil).Activate(ctx, fakeKey, dev, ""); err != nil {
		t.Fatal(err)
	}
	b.setClock(b.now.Add(6*24*time.Hour), false)
	s, err := b.offline().Validate(ctx, fakeKey, dev)
	if err != nil || !s.Valid || s.Source != SourceCachedAnswer || !s.Offline() {
		t.Fatalf("within the grace period: %+v %v", s, err)
	}
	// A 5xx is Keyhook unreachable too.
	b.kh.set(func(f *fakeKeyhook) { f.down = 503 })
	if s, err = b.client(nil).Validate(ctx, fakeKey, dev); err != nil || s.Source != SourceCachedAnswer {
		t.Fatalf("503: %+v %v", s, err)
	}
	// A 4xx is an answer: no fallback.
	b.kh.set(func(f *fakeKeyhook) { f.down = 429 })
	_, err = b.client(nil).Validate(ctx, fakeKey, dev)
	var server *ServerError
	if !errors.As(err, &server) || server.Status != 429 || server.Code != "unavailable" {
		t.Fatalf("429: %v", err)
	}
	expectKind(t, err, KindServer)
	// Past the grace period (7 days by default).
	b.setClock(b.now.Add(24*time.Hour+time.Second), false)
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	var grace *GraceExpiredError
	if !errors.As(err, &grace) || grace.Since != "2026-11-24T10:00:00.000Z" {
		t.Fatalf("past the grace period: %v", err)
	}
	expectKind(t, err, KindGraceExpired)
	// A longer grace is the merchant's choice.
	if s, err := b.client(func(c *Config) { c.BaseURL = "http://127.0.0.1:9"; c.Grace = 14 * 24 * time.Hour }).Validate(ctx, fakeKey, dev); err != nil || !s.Valid {
		t.Fatalf("14 days of grace: %+v %v", s, err)
	}
}

func TestAKeptLicenseFileCarriesTheAppOfflineAndAClockSetBackIsRefused(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	text, p, err := b.client(nil).CheckoutFile(ctx, fakeKey, dev, 2*24*time.Hour, true)
	if err != nil || !strings.HasPrefix(text, fileBegin) || !p.Has("pro") || p.Has("enterprise") {
		t.Fatalf("checkout: %v %+v", err, p)
	}
	if strings.Contains(text, DeviceHash("42", dev)) {
		t.Fatal("the file is encrypted")
	}
	b.setClock(b.now.Add(24*time.Hour), false)
	s, err := b.offline().Validate(ctx, fakeKey, dev)
	if err != nil || !s.Valid || s.Source != SourceLicenseFile || !s.Has("pro") {
		t.Fatalf("offline from the file: %+v %v", s, err)
	}
	// The clock set back two days: behind the mark.
	b.setClock(b.now.Add(-2*24*time.Hour), false)
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectRollback(t, err, RollbackBehind)
	// ... with the mark deleted, or edited back.
	mark, _ := os.ReadFile(b.markPath(fakeKey, dev))
	if err := os.Remove(b.markPath(fakeKey, dev)); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectRollback(t, err, RollbackMarkMissing)
	edited := strings.Replace(string(mark), "2026-11-25", "2026-11-23", 1)
	if edited == string(mark) {
		t.Fatalf("mark %s", mark)
	}
	if err := os.WriteFile(b.markPath(fakeKey, dev), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectRollback(t, err, RollbackMarkAltered)
	// Another license's mark does not verify either.
	other := SealMark(MarkSlot{"42", "ABCDE-FGHJK-MNPQR-STVWX-YZ012", dev}, b.now)
	if err := os.WriteFile(b.markPath(fakeKey, dev), []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectRollback(t, err, RollbackMarkAltered)
	// Nothing offline repairs it; a fresh online answer proves the clock and restarts the mark.
	b.setClock(b.now.Add(2*24*time.Hour), true)
	if s, err := b.client(nil).Validate(ctx, fakeKey, dev); err != nil || !s.Valid {
		t.Fatalf("online: %+v %v", s, err)
	}
	if s, err := b.offline().Validate(ctx, fakeKey, dev); err != nil || !s.Valid || s.Source != SourceLicenseFile {
		t.Fatalf("offline after the repair: %+v %v", s, err)
	}
	// The file expires on its own (two days after its checkout).
	b.setClock(b.now.Add(24*time.Hour), false)
	s, err = b.offline().CheckOffline(fakeKey, dev)
	if err != nil || s.Source != SourceCachedAnswer {
		t.Fatalf("after the file, the last answer within the grace period: %+v %v", s, err)
	}
	if err := os.Remove(filepath.Join(b.dir, "answer-"+cacheSlot("42", fakeKey, dev)+".json")); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().CheckOffline(fakeKey, dev)
	expectReason(t, err, ReasonExpired)
}

func TestAnEncryptedFileNeedsItsKey(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	text, _, err := b.client(nil).CheckoutFile(ctx, fakeKey, dev, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ParseKeySet(b.keys)
	if _, err := VerifyLicenseFile(keys, text, ""); Kind(err) != KindVerification || !strings.Contains(err.Error(), ReasonKeyRequired) {
		t.Fatalf("without the key: %v", err)
	}
	_, err = VerifyLicenseFile(keys, text, "ABCDE-FGHJK-MNPQR-STVWX-YZ012")
	expectReason(t, err, ReasonDecrypt)
	// Lenient key input is the same key.
	if p, err := VerifyLicenseFile(keys, text, "7k2m9 q4x1c 8v3b6 n0d5f hjkmp"); err != nil || p.ProductID != "42" {
		t.Fatalf("lenient key: %v", err)
	}
}

func TestRevokedLicensesLoseTheirOfflineProofs(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	if _, _, err := b.client(nil).CheckoutFile(ctx, fakeKey, dev, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client(nil).Validate(ctx, fakeKey, dev); err != nil {
		t.Fatal(err)
	}
	b.kh.set(func(f *fakeKeyhook) { f.status = "revoked" })
	s, err := b.client(nil).Validate(ctx, fakeKey, dev)
	if err != nil || s.Valid || s.Code != "REVOKED" {
		t.Fatalf("revoked: %+v %v", s, err)
	}
	// The kept file and answer are forgotten: offline, nothing vouches for the license.
	_, err = b.offline().Validate(ctx, fakeKey, dev)
	expectKind(t, err, KindNetwork)
	entries, _ := os.ReadDir(b.dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "mark-") {
			t.Errorf("kept after the revocation: %s", e.Name())
		}
	}
	// A checkout is refused with the answer's code.
	_, _, err = b.client(nil).CheckoutFile(ctx, fakeKey, dev, 0, false)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "REVOKED" {
		t.Fatalf("checkout of a revoked license: %v", err)
	}
	expectKind(t, err, KindRefused)
}

func TestDeactivationForgetsTheProofsAndAFullLicenseRefusesAFile(t *testing.T) {
	b := newTestbed(t)
	a, bDev, cDev := DeviceIDFrom("42", "dev-A"), DeviceIDFrom("42", "dev-B"), DeviceIDFrom("42", "dev-C")
	for _, d := range []string{a, bDev} {
		if _, _, err := b.client(nil).CheckoutFile(ctx, fakeKey, d, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := b.client(nil).CheckoutFile(ctx, fakeKey, cDev, 0, false)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "DEVICE_LIMIT_REACHED" {
		t.Fatalf("third file: %v", err)
	}
	if _, err := b.client(nil).Deactivate(ctx, fakeKey, a); err != nil {
		t.Fatal(err)
	}
	_, err = b.offline().Validate(ctx, fakeKey, a)
	expectKind(t, err, KindNetwork)
	if s, err := b.offline().Validate(ctx, fakeKey, bDev); err != nil || !s.Valid {
		t.Fatalf("the other device keeps its file: %+v %v", s, err)
	}
}

func TestAnAnswerVerifiedOutsideTheClientRestartsTheMark(t *testing.T) {
	b := newTestbed(t)
	dev := DeviceIDFrom("42", "dev-A")
	c := b.client(nil)
	if _, err := c.Activate(ctx, fakeKey, dev, ""); err != nil {
		t.Fatal(err)
	}
	// An app that sends its own requests: the body as received, the nonce it sent.
	nonce := NewNonce()
	if len(nonce) != 32 || nonce == NewNonce() {
		t.Fatalf("nonce %s", nonce)
	}
	b.kh.set(func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.Nonce = nonce } })
	res, err := c.post(ctx, "/api/licenses/validate", c.requestBody(fakeKey, dev, nonce))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.markPath(fakeKey, dev), []byte("edited"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyAnswer(res.body, fakeKey, dev, nonce); err != nil {
		t.Fatal(err)
	}
	mark, _ := os.ReadFile(b.markPath(fakeKey, dev))
	if string(mark) != SealMark(MarkSlot{"42", fakeKey, dev}, b.now) {
		t.Fatalf("mark %s", mark)
	}
	_, err = c.VerifyAnswer(res.body, fakeKey, dev, NewNonce())
	expectReason(t, err, ReasonWrongNonce)
}
