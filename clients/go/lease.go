package keyhook

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Floating licenses: Client.Lease takes a seat and returns a *Lease whose goroutine heartbeats
// every heartbeatSeconds (a third of the lease, so two heartbeats may fail before it lapses)
// and reports the loss of the seat (Lost, State). Release stops the goroutine and gives the
// seat back; Borrow turns the seat into a license file for offline use. Every answer is
// verified as Validate's are (signature, product, device, license, nonce, freshness).

// While Keyhook cannot be reached, heartbeats are retried this often (in heartbeat units, a
// second each) until the lease lapses.
const leaseRetryUnits = 5

// LostUnreachable is the code of a seat lost because its lease lapsed while Keyhook could not
// be reached (or answered nothing trusted).
const LostUnreachable = "UNREACHABLE"

// SeatState is where a seat stands, as the heartbeats last learnt it.
type SeatState struct {
	// Held: the seat is held until ExpiresAt (each heartbeat moves it).
	Held      bool
	ExpiresAt string
	// Once lost: Keyhook answered Code (LEASE_EXPIRED: the lease lapsed or a merchant released
	// it; REVOKED, SUSPENDED, EXPIRED: the license), or the lease lapsed while Keyhook could not
	// be reached (LostUnreachable, Detail the last error). Stop the licensed features then, or
	// lease again.
	Code   string
	Detail string
}

// Lease is a held floating seat (Client.Lease). Its methods are safe for concurrent use.
type Lease struct {
	// Answer is the verified answer that granted the seat; Answer.Lease is the lease as Keyhook
	// first answered it (ID, ExpiresAt, HeartbeatSeconds).
	Answer *Answer

	client   *Client
	key      string
	deviceID string
	id       string

	mu        sync.Mutex
	state     SeatState
	heartbeat uint32 // the last heartbeatSeconds answered
	released  bool

	lost chan struct{} // closed when the seat is lost
	done chan struct{} // closed when the heartbeat goroutine has returned
	stop context.CancelFunc
}

// Lease takes a floating seat for deviceID (POST /api/licenses/leases), or gets the device's
// own lease back, extended; deviceName is optional ("" for none). A goroutine then heartbeats
// it until Release (ctx bounds this request only). Every seat in use is a
// *ConcurrencyLimitError; any other refusal (REVOKED, NOT_FOUND, ...) a *RefusedError with the
// signed answer's code.
func (c *Client) Lease(ctx context.Context, key, deviceID, deviceName string) (*Lease, error) {
	var extra map[string]interface{}
	if deviceName != "" {
		extra = map[string]interface{}{"deviceName": deviceName}
	}
	a, _, err := c.call(ctx, "/api/licenses/leases", key, deviceID, extra)
	if err != nil {
		return nil, err
	}
	if !a.Valid {
		if a.Code == "CONCURRENCY_LIMIT_REACHED" && a.Seats != nil {
			return nil, &ConcurrencyLimitError{InUse: a.Seats.InUse, MaxConcurrent: a.Seats.MaxConcurrent}
		}
		return nil, &RefusedError{Code: a.Code, Detail: a.Detail}
	}
	if a.Lease == nil {
		return nil, verifyErr(ReasonMalformed, "a lease answer without its lease")
	}
	beats, stop := context.WithCancel(context.Background())
	l := &Lease{Answer: a, client: c, key: key, deviceID: deviceID, id: a.Lease.ID,
		state:     SeatState{Held: true, ExpiresAt: a.Lease.ExpiresAt},
		heartbeat: a.Lease.HeartbeatSeconds,
		lost:      make(chan struct{}), done: make(chan struct{}), stop: stop}
	go l.heartbeats(beats)
	return l, nil
}

// leaseBody: the body of a lease route (no license key: the lease id names the license).
func (c *Client) leaseBody(deviceID, nonce string) map[string]interface{} {
	return map[string]interface{}{
		"productId":   c.config.ProductID,
		"deviceId":    deviceID,
		"nonce":       nonce,
		"environment": string(c.config.Environment),
	}
}

func leasePath(leaseID string) string { return "/api/licenses/leases/" + url.PathEscape(leaseID) }

// heartbeatLease: POST /api/licenses/leases/{id}/heartbeat, verified as an answer about key's
// license on deviceID.
func (c *Client) heartbeatLease(ctx context.Context, key, leaseID, deviceID string) (*Answer, error) {
	nonce := NewNonce()
	res, err := c.post(ctx, leasePath(leaseID)+"/heartbeat", c.leaseBody(deviceID, nonce))
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, serverError(res)
	}
	return c.VerifyAnswer(res.body, key, deviceID, nonce)
}

// releaseLease: DELETE /api/licenses/leases/{id}; false when the lease was no longer live.
func (c *Client) releaseLease(ctx context.Context, leaseID string) (bool, error) {
	res, err := c.send(ctx, http.MethodDelete, leasePath(leaseID), nil)
	if err != nil {
		return false, err
	}
	switch res.status {
	case http.StatusNoContent:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, serverError(res)
}

// period: n heartbeat seconds (at least one).
func (c *Client) period(n uint32) time.Duration {
	if n < 1 {
		n = 1
	}
	return time.Duration(n) * c.heartbeatUnit
}

// heartbeats runs until ctx is cancelled (Release) or the seat is lost.
func (l *Lease) heartbeats(ctx context.Context) {
	defer close(l.done)
	l.mu.Lock()
	wait := l.client.period(l.heartbeat)
	l.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		a, err := l.client.heartbeatLease(ctx, l.key, l.id, l.deviceID)
		if ctx.Err() != nil {
			return // released meanwhile
		}
		l.mu.Lock()
		switch {
		case err != nil:
			// Unreachable or not trusted: the seat is held until its lease lapses.
			if l.lapsed() {
				l.lose(LostUnreachable, err.Error())
				l.mu.Unlock()
				return
			}
			wait = l.client.period(l.heartbeat)
			if retry := l.client.period(leaseRetryUnits); retry < wait {
				wait = retry
			}
		case !a.Valid:
			l.lose(a.Code, a.Detail)
			l.mu.Unlock()
			return
		default:
			if a.Lease != nil {
				l.state.ExpiresAt = a.Lease.ExpiresAt
				l.heartbeat = a.Lease.HeartbeatSeconds
			}
			wait = l.client.period(l.heartbeat)
		}
		l.mu.Unlock()
		timer.Reset(wait)
	}
}

// lapsed: the lease's last known expiry is past by the client's clock (l.mu held).
func (l *Lease) lapsed() bool {
	at, err := parseTime("expiresAt", l.state.ExpiresAt)
	return err != nil || !at.After(l.client.config.Clock())
}

// lose records the loss of the seat (l.mu held).
func (l *Lease) lose(code, detail string) {
	l.state = SeatState{Code: code, Detail: detail}
	close(l.lost)
}

// ID is the lease's id (lse_…).
func (l *Lease) ID() string { return l.id }

// State is where the seat stands, as the heartbeats last learnt it.
func (l *Lease) State() SeatState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state
}

// Held reports whether the seat is still held (false once lost or released).
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.Held && !l.released
}

// Lost is closed when the seat is lost (State then says why); it stays open while the seat is
// held, and after Release.
//
//	select {
//	case <-seat.Lost():
//		s := seat.State() // s.Code: LEASE_EXPIRED, REVOKED, ..., UNREACHABLE
//	case <-ctx.Done():
//	}
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Borrow turns the seat into a license file for offline use (POST
// /api/licenses/leases/{id}/borrow), valid for d (whole seconds, at most the license's
// maxBorrowSeconds): the verified file, also kept for CheckOffline, like CheckoutFile's. The
// seat stays taken until the borrow ends, heartbeats or not. A refusal is a *RefusedError with
// the signed answer's code.
func (l *Lease) Borrow(ctx context.Context, d time.Duration) (string, *FilePayload, error) {
	c := l.client
	nonce := NewNonce()
	body := c.leaseBody(l.deviceID, nonce)
	body["seconds"] = int64(d / time.Second)
	res, err := c.post(ctx, leasePath(l.id)+"/borrow", body)
	if err != nil {
		return "", nil, err
	}
	return c.fileAnswer("borrow", res, l.key, l.deviceID, nonce)
}

// Release stops the heartbeats and gives the seat back now (DELETE
// /api/licenses/leases/{id}); false when the lease had lapsed already, or was released before
// (then nothing is sent).
func (l *Lease) Release(ctx context.Context) (bool, error) {
	l.stop()
	<-l.done
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return false, nil
	}
	l.released = true
	l.mu.Unlock()
	return l.client.releaseLease(ctx, l.id)
}

// Close is Release without a deadline of its own (the client's HTTP timeout bounds it), for
// defer seat.Close(). When Keyhook cannot be reached, the seat frees itself as its lease lapses.
func (l *Lease) Close() error {
	_, err := l.Release(context.Background())
	return err
}
