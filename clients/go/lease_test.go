package keyhook

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

// Floating seats and usage against the fake Keyhook: a lease heartbeats from its goroutine and
// gives the seat back, a lost seat is reported, the limits' errors carry their signed numbers,
// and a tampered, forged, replayed or mismatched answer is refused.

// beat is the heartbeat unit of the fast tests (a second in apps).
const beat = 20 * time.Millisecond

// leaseBed: a testbed whose Keyhook leases for 3 seconds (a heartbeat each second).
func leaseBed(t *testing.T) *testbed {
	b := newTestbed(t)
	b.kh.set(func(f *fakeKeyhook) { f.leaseSeconds = 3 })
	return b
}

// fast is a client whose heartbeat seconds last beat.
func (b *testbed) fast() *Client {
	c := b.client(nil)
	c.heartbeatUnit = beat
	return c
}

func (b *testbed) lease(c *Client, device string) *Lease {
	b.t.Helper()
	seat, err := c.Lease(ctx, fakeKey, device, "")
	if err != nil {
		b.t.Fatalf("lease: %v", err)
	}
	b.t.Cleanup(func() { _ = seat.Close() })
	return seat
}

func waitFor(condition func() bool, within time.Duration) bool {
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		if condition() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return condition()
}

// lostWithin: the seat's state once lost, false when it is still held after d.
func lostWithin(seat *Lease, d time.Duration) (SeatState, bool) {
	select {
	case <-seat.Lost():
		return seat.State(), true
	case <-time.After(d):
		return seat.State(), false
	}
}

func TestALeaseHeartbeatsEverySecondAndReleaseGivesTheSeatBack(t *testing.T) {
	b := leaseBed(t)
	c := b.client(nil) // real seconds
	dev := DeviceIDFrom("42", "dev-A")
	start := time.Now()
	seat := b.lease(c, dev)
	if !strings.HasPrefix(seat.ID(), "lse_") || seat.Answer.Lease.HeartbeatSeconds != 1 || !seat.Held() {
		t.Fatalf("lease: %s %+v", seat.ID(), seat.Answer.Lease)
	}
	first := seat.State()
	if !first.Held || first.ExpiresAt != "2026-11-24T10:00:03.000Z" {
		t.Fatalf("state %+v", first)
	}
	if r := b.kh.seen("/leases")[0]; r.LicenseKey != fakeKey || r.DeviceID != dev || r.Nonce == "" {
		t.Fatalf("lease request %+v", r)
	}
	// Keyhook's clock moves; the next heartbeat (a second after the lease) extends the lease.
	b.setClock(b.now.Add(2*time.Second), true)
	if !waitFor(func() bool { return len(b.kh.seen("/heartbeat")) >= 1 }, 5*time.Second) {
		t.Fatal("no heartbeat")
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Fatalf("a heartbeat after %v, before heartbeatSeconds", elapsed)
	}
	if !waitFor(func() bool { return seat.State().ExpiresAt == "2026-11-24T10:00:05.000Z" }, 2*time.Second) {
		t.Fatalf("not extended: %+v", seat.State())
	}
	if !seat.Held() {
		t.Fatal("the seat is held")
	}
	nonces := map[string]bool{}
	for _, r := range b.kh.seen("/heartbeat") {
		if r.Route != "POST /api/licenses/leases/"+seat.ID()+"/heartbeat" || r.DeviceID != dev || r.LicenseKey != "" || r.Nonce == "" || nonces[r.Nonce] {
			t.Errorf("heartbeat %+v", r)
		}
		nonces[r.Nonce] = true
	}

	released, err := seat.Release(ctx)
	if err != nil || !released {
		t.Fatalf("release: %v %v", released, err)
	}
	b.kh.set(func(f *fakeKeyhook) {
		if len(f.deleted) != 1 || f.deleted[0] != seat.ID() || len(f.leases) != 0 {
			t.Errorf("deleted %v, leases %v", f.deleted, f.leases)
		}
	})
	if seat.Held() {
		t.Error("held after release")
	}
	count := len(b.kh.seen("/heartbeat"))
	time.Sleep(1300 * time.Millisecond)
	if n := len(b.kh.seen("/heartbeat")); n != count {
		t.Errorf("%d heartbeats after release", n-count)
	}
	if released, err := seat.Release(ctx); released || err != nil {
		t.Errorf("a second release: %v %v", released, err)
	}
	if n := len(b.kh.seen("/leases/" + seat.ID())); n != 1 {
		t.Errorf("%d DELETEs", n)
	}
}

func TestEverySeatInUseIsAConcurrencyLimitErrorWithTheSignedNumbers(t *testing.T) {
	b := leaseBed(t)
	c := b.fast()
	a, other := DeviceIDFrom("42", "dev-A"), DeviceIDFrom("42", "dev-B")
	seat := b.lease(c, a)
	if again := b.lease(c, a); again.ID() != seat.ID() {
		t.Fatalf("one device holds one seat: %s, %s", again.ID(), seat.ID())
	}
	_, err := c.Lease(ctx, fakeKey, other, "build server")
	var full *ConcurrencyLimitError
	if !errors.As(err, &full) || full.InUse != 1 || full.MaxConcurrent != 1 || err.Error() != "every seat is in use (1 of 1)" {
		t.Fatalf("a second device: %v", err)
	}
	expectKind(t, err, KindConcurrencyLimit)
	_, err = c.Lease(ctx, "ABCDE-FGHJK-MNPQR-STVWX-YZ012", other, "")
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "NOT_FOUND" {
		t.Fatalf("an unknown key: %v", err)
	}
	expectKind(t, err, KindRefused)
	// Given back, the seat is the other device's.
	if ok, err := seat.Release(ctx); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	if b.lease(c, other).ID() == seat.ID() {
		t.Fatal("the other device got the released lease")
	}
	// A revoked license takes no seat.
	b.kh.set(func(f *fakeKeyhook) { f.status = "revoked" })
	_, err = c.Lease(ctx, fakeKey, a, "")
	if !errors.As(err, &refused) || refused.Code != "REVOKED" {
		t.Fatalf("revoked: %v", err)
	}
}

func TestASeatLostOnKeyhookIsReported(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fakeKeyhook)
		code   string
	}{
		// A merchant released it (or it lapsed): the next heartbeat answers LEASE_EXPIRED.
		{"lease expired", func(f *fakeKeyhook) {
			for _, le := range f.leases {
				le.expiresAt = f.now.Add(-time.Second)
			}
		}, "LEASE_EXPIRED"},
		{"license revoked", func(f *fakeKeyhook) { f.status = "revoked" }, "REVOKED"},
		{"license suspended", func(f *fakeKeyhook) { f.status = "suspended" }, "SUSPENDED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := leaseBed(t)
			seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
			if _, lost := lostWithin(seat, 10*beat); lost {
				t.Fatal("lost while Keyhook says it is held")
			}
			b.kh.set(tc.change)
			s, lost := lostWithin(seat, 2*time.Second)
			if !lost || s.Held || s.Code != tc.code || s.Detail == "" || seat.Held() {
				t.Fatalf("lost %v: %+v", lost, s)
			}
			// The goroutine has stopped: no more heartbeats.
			count := len(b.kh.seen("/heartbeat"))
			time.Sleep(5 * beat)
			if n := len(b.kh.seen("/heartbeat")); n != count {
				t.Errorf("%d heartbeats after the loss", n-count)
			}
		})
	}
	t.Run("release after the loss", func(t *testing.T) {
		b := leaseBed(t)
		seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
		b.kh.set(cases[0].change)
		if _, lost := lostWithin(seat, 2*time.Second); !lost {
			t.Fatal("not lost")
		}
		// Keyhook answers 404 for a lapsed lease.
		if ok, err := seat.Release(ctx); ok || err != nil {
			t.Fatalf("release: %v %v", ok, err)
		}
	})
}

func TestALeaseThatLapsesWhileKeyhookIsUnreachableIsLost(t *testing.T) {
	b := leaseBed(t)
	seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
	b.kh.set(func(f *fakeKeyhook) { f.down = 503 })
	// Held while the lease runs (by the app's clock), retrying.
	if _, lost := lostWithin(seat, 10*beat); lost || !seat.Held() {
		t.Fatalf("lost before the lease lapsed: %+v", seat.State())
	}
	if n := len(b.kh.seen("/heartbeat")); n < 3 {
		t.Fatalf("%d heartbeats tried", n)
	}
	b.setClock(b.now.Add(3*time.Second), false) // the lease's expiresAt
	s, lost := lostWithin(seat, 2*time.Second)
	if !lost || s.Code != LostUnreachable || !strings.Contains(s.Detail, "503") {
		t.Fatalf("lost %v: %+v", lost, s)
	}
	// Releasing a lost seat: Keyhook still cannot be reached.
	_, err := seat.Release(ctx)
	expectKind(t, err, KindServer)
}

func TestABorrowedSeatIsAVerifiedLicenseFileThatWorksOffline(t *testing.T) {
	b := leaseBed(t)
	dev := DeviceIDFrom("42", "dev-A")
	seat := b.lease(b.fast(), dev)
	text, p, err := seat.Borrow(ctx, time.Hour)
	if err != nil || !strings.HasPrefix(text, fileBegin) || p.DeviceHash != DeviceHash("42", dev) ||
		p.ExpiresAt != "2026-11-24T11:00:00.000Z" || !p.Has("pro") {
		t.Fatalf("borrow: %v %+v", err, p)
	}
	if r := b.kh.seen("/borrow"); len(r) != 1 || r[0].Route != "POST /api/licenses/leases/"+seat.ID()+"/borrow" || r[0].Seconds != 3600 || r[0].DeviceID != dev {
		t.Fatalf("borrow request %+v", r)
	}
	// The seat is taken until the borrow ends: the heartbeats say so.
	if !waitFor(func() bool { return seat.State().ExpiresAt == "2026-11-24T11:00:00.000Z" }, 2*time.Second) {
		t.Fatalf("state %+v", seat.State())
	}
	// Given back early, the file stays valid offline until it expires.
	if ok, err := seat.Release(ctx); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	b.setClock(b.now.Add(50*time.Minute), false)
	s, err := b.offline().Validate(ctx, fakeKey, dev)
	if err != nil || !s.Valid || s.Source != SourceLicenseFile || !s.Has("pro") || s.File.ExpiresAt != p.ExpiresAt {
		t.Fatalf("offline: %+v %v", s, err)
	}
	// The text verifies on its own, with the published keys only.
	keys, _ := ParseKeySet(b.keys)
	if q, err := VerifyLicenseFile(keys, text, ""); err != nil || q.LicenseID != p.LicenseID || q.Check("42", dev, b.now, 0) != nil {
		t.Fatalf("the file alone: %+v %v", q, err)
	}
	// After the borrow, nothing vouches for the license offline (no answer was kept).
	b.setClock(b.now.Add(11*time.Minute), false)
	_, err = b.offline().CheckOffline(fakeKey, dev)
	expectReason(t, err, ReasonExpired)
}

func TestABorrowedFileIsVerified(t *testing.T) {
	b := leaseBed(t)
	seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
	// Four more base64 characters in the armoured file: it no longer verifies.
	b.kh.set(func(f *fakeKeyhook) {
		f.alter = func(body []byte) []byte { return []byte(strings.Replace(string(body), `\n`, `\nAAAA`, 1)) }
	})
	text, p, err := seat.Borrow(ctx, time.Minute)
	if text != "" || p != nil {
		t.Fatal("a file that does not verify")
	}
	expectKind(t, err, KindVerification)
	// Signed by a key the app does not trust.
	b.kh.set(func(f *fakeKeyhook) { f.alter = nil; forge(f) })
	_, _, err = seat.Borrow(ctx, time.Minute)
	expectReason(t, err, ReasonBadSignature)
}

func TestABorrowOfALapsedLeaseIsRefused(t *testing.T) {
	b := leaseBed(t)
	seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
	b.kh.set(func(f *fakeKeyhook) { f.leases[seat.ID()].expiresAt = f.now })
	_, _, err := seat.Borrow(ctx, time.Minute)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "LEASE_EXPIRED" {
		t.Fatalf("borrow of a lapsed lease: %v", err)
	}
	expectKind(t, err, KindRefused)
}

// forge makes the fake sign with a key the app does not trust, under the trusted key's kid.
func forge(f *fakeKeyhook) {
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	f.priv = other
}

func TestATamperedForgedOrMismatchedLeaseAnswerIsRefused(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *fakeKeyhook)
		reason string
	}{
		{"tampered", func(f *fakeKeyhook) {
			f.alter = func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"heartbeatSeconds":1`, `"heartbeatSeconds":9`, 1))
			}
		}, ReasonBadSignature},
		{"forged", forge, ReasonBadSignature},
		{"another request's nonce", func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.Nonce = "n-old" } }, ReasonWrongNonce},
		{"another device", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.DeviceHash = DeviceHash("42", "someone-else") }
		}, ReasonWrongDevice},
		{"another license", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.LicenseID, a.License.ID = "lic_other", "lic_other" }
		}, ReasonWrongLicense},
		{"another product", func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.ProductID = "43" } }, ReasonWrongProduct},
		{"a lease member of the wrong type", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.Lease.HeartbeatSeconds = -1 }
		}, ReasonMalformed},
		{"a seat without its lease", func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.Lease = nil } }, ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := leaseBed(t)
			b.kh.set(tc.change)
			seat, err := b.fast().Lease(ctx, fakeKey, DeviceIDFrom("42", "dev-A"), "")
			if seat != nil {
				t.Fatal("a seat from an untrusted answer")
			}
			expectReason(t, err, tc.reason)
			expectKind(t, err, KindVerification)
		})
	}
	// A heartbeat answer that is not trusted does not extend the seat; once the lease lapses
	// (by the app's clock) the seat is lost, with what was wrong.
	heartbeats := []struct {
		name   string
		change func(f *fakeKeyhook)
		reason string
	}{
		{"replayed", func(f *fakeKeyhook) { f.replay = true }, ReasonWrongNonce},
		{"forged", forge, ReasonBadSignature},
		{"another license", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.LicenseID, a.License.ID = "lic_other", "lic_other" }
		}, ReasonWrongLicense},
	}
	for _, tc := range heartbeats {
		t.Run("heartbeat "+tc.name, func(t *testing.T) {
			b := leaseBed(t)
			seat := b.lease(b.fast(), DeviceIDFrom("42", "dev-A"))
			// Keyhook's clock a second on: a trusted heartbeat would extend the lease to 10:00:04.
			b.kh.set(func(f *fakeKeyhook) {
				f.now = f.now.Add(time.Second)
				tc.change(f)
			})
			if _, lost := lostWithin(seat, 10*beat); lost {
				t.Fatal("lost before the lease lapsed")
			}
			if s := seat.State(); s.ExpiresAt != "2026-11-24T10:00:03.000Z" {
				t.Fatalf("extended by an untrusted answer: %+v", s)
			}
			b.setClock(b.now.Add(3*time.Second), false)
			s, lost := lostWithin(seat, 2*time.Second)
			if !lost || s.Code != LostUnreachable || !strings.Contains(s.Detail, tc.reason) {
				t.Fatalf("lost %v: %+v", lost, s)
			}
		})
	}
}

func TestUsageIsRecordedAndTheLimitRefusesWithItsNumbers(t *testing.T) {
	b := newTestbed(t)
	c := b.client(nil)
	u, err := c.RecordUsage(ctx, fakeKey, "exports", 2, nil)
	want := Usage{Meter: "exports", Period: "month", Used: 2, Limit: 5, Remaining: 3, ResetsAt: "2026-12-01T00:00:00.000Z"}
	if err != nil || *u != want {
		t.Fatalf("record: %+v %v", u, err)
	}
	if u, err = c.RecordUsage(ctx, fakeKey, "exports", 2, nil); err != nil || u.Used != 4 || u.Remaining != 1 {
		t.Fatalf("again: %+v %v", u, err)
	}
	_, err = c.RecordUsage(ctx, fakeKey, "exports", 2, nil)
	var limit *UsageLimitError
	if !errors.As(err, &limit) || *limit != (UsageLimitError{Meter: "exports", Used: 4, Limit: 5, Remaining: 1}) {
		t.Fatalf("over the limit: %v", err)
	}
	expectKind(t, err, KindUsageLimit)
	if err.Error() != "the exports limit is reached (4 of 5 used, 1 left)" {
		t.Errorf("message %q", err)
	}
	// Nothing was recorded: what remains still fits.
	if u, err = c.RecordUsage(ctx, fakeKey, "exports", 1, nil); err != nil || u.Remaining != 0 {
		t.Fatalf("the rest: %+v %v", u, err)
	}
	// Each call made its own idempotency key, and named no device.
	seen := map[string]bool{}
	for _, r := range b.kh.seen("/usage") {
		if len(r.IdempotencyKey) != 32 || strings.Trim(r.IdempotencyKey, "0123456789abcdef") != "" || seen[r.IdempotencyKey] || r.DeviceID != "" || r.LicenseKey != fakeKey {
			t.Errorf("request %+v", r)
		}
		seen[r.IdempotencyKey] = true
	}
	if len(seen) != 4 {
		t.Errorf("%d keys", len(seen))
	}
}

func TestARetryWithTheCallersIdempotencyKeyCountsOnce(t *testing.T) {
	b := newTestbed(t)
	c := b.client(nil)
	dev := DeviceIDFrom("42", "dev-A")
	opts := &UsageOptions{IdempotencyKey: "job-7", DeviceID: dev}
	first, err := c.RecordUsage(ctx, fakeKey, "exports", 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := c.RecordUsage(ctx, fakeKey, "exports", 1, opts)
	if err != nil || first.Remaining != 4 || retry.Remaining != 4 {
		t.Fatalf("retry: %+v %+v %v", first, retry, err)
	}
	if r := b.kh.seen("/usage")[0]; r.DeviceID != dev || r.IdempotencyKey != "job-7" {
		t.Fatalf("request %+v", r)
	}
}

func TestAUsageAnswerIsVerified(t *testing.T) {
	dev := DeviceIDFrom("42", "dev-A")
	cases := []struct {
		name   string
		change func(f *fakeKeyhook)
		reason string
	}{
		{"tampered", func(f *fakeKeyhook) {
			f.alter = func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"remaining":2`, `"remaining":5`, 1))
			}
		}, ReasonBadSignature},
		{"forged", forge, ReasonBadSignature},
		{"replayed", func(f *fakeKeyhook) { f.replay = true }, ReasonWrongNonce},
		{"another device", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.DeviceHash = DeviceHash("42", "someone-else") }
		}, ReasonWrongDevice},
		{"another license", func(f *fakeKeyhook) {
			f.edit = func(a *fakeAnswer) { a.LicenseID, a.License.ID = "lic_other", "lic_other" }
		}, ReasonWrongLicense},
		{"a usage member of the wrong type", func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.Usage.Used = -1 } }, ReasonMalformed},
		{"a record without its usage", func(f *fakeKeyhook) { f.edit = func(a *fakeAnswer) { a.Usage = nil } }, ReasonMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestbed(t)
			c := b.client(nil)
			if _, err := c.RecordUsage(ctx, fakeKey, "exports", 1, &UsageOptions{DeviceID: dev}); err != nil {
				t.Fatal(err)
			}
			b.kh.set(tc.change)
			u, err := c.RecordUsage(ctx, fakeKey, "exports", 2, &UsageOptions{DeviceID: dev})
			if u != nil {
				t.Fatalf("usage from an untrusted answer: %+v", u)
			}
			expectReason(t, err, tc.reason)
		})
	}
	t.Run("refusals", func(t *testing.T) {
		b := newTestbed(t)
		c := b.client(nil)
		_, err := c.RecordUsage(ctx, fakeKey, "seats", 1, nil)
		var server *ServerError
		if !errors.As(err, &server) || server.Status != 409 || server.Code != "conflict" {
			t.Fatalf("an unknown meter: %v", err)
		}
		_, err = c.RecordUsage(ctx, "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "exports", 1, nil)
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Code != "NOT_FOUND" {
			t.Fatalf("an unknown key: %v", err)
		}
		b.kh.set(func(f *fakeKeyhook) { f.status = "revoked" })
		_, err = c.RecordUsage(ctx, fakeKey, "exports", 1, nil)
		if !errors.As(err, &refused) || refused.Code != "REVOKED" {
			t.Fatalf("revoked: %v", err)
		}
	})
}

// The shared vectors' lease, seat and usage members, as the client reads them.
func TestTheLeaseAndUsageVectorsReadTheirMembers(t *testing.T) {
	v := loadVectors(t)
	read := func(name string) *Answer {
		t.Helper()
		for _, c := range v.Answers {
			if c.Name == name {
				e := c.Expect
				client := vectorClient(t, v, e.ProductID, c.Environment, mustTime(t, c.Now), "")
				a, err := client.VerifyAnswer([]byte(c.Body), deref(e.LicenseKey), deref(e.DeviceID), deref(e.Nonce))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return a
			}
		}
		t.Fatalf("no vector %s", name)
		return nil
	}
	if l := read("lease").Lease; l == nil || *l != (AnswerLease{ID: "lse_0123456789abcdefghjkmnpqrs_7k2m9q4x1c8v3b6n0d5f", ExpiresAt: "2026-11-24T10:15:00.000Z", HeartbeatSeconds: 300}) {
		t.Errorf("lease %+v", l)
	}
	if s := read("concurrency-limit").Seats; s == nil || *s != (AnswerSeats{InUse: 5, MaxConcurrent: 5}) {
		t.Errorf("seats %+v", s)
	}
	want := Usage{Meter: "exports", Period: "month", Used: 998, Limit: 1000, Remaining: 2, ResetsAt: "2026-12-01T00:00:00.000Z"}
	for _, name := range []string{"usage", "usage-limit"} {
		if u := read(name).Usage; u == nil || *u != want {
			t.Errorf("%s: %+v", name, u)
		}
	}
	m := read("valid-with-usage").Meters
	if len(m) != 2 || m[0] != want || m[1] != (Usage{Meter: "projects", Period: "lifetime", Used: 3, Limit: 1000000000000, Remaining: 999999999997}) {
		t.Errorf("meters %+v", m)
	}
}
