// A floating-license app: take a seat at start, run while the lease's goroutine heartbeats,
// stop when the seat is lost, give it back at exit.
//
//	KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 KEYHOOK_KEYS=signing-keys.json \
//	  go run ./examples/floating_seat XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
//
// (signing-keys.json: the body of GET /api/tenants/{tenantId}/signing-keys; embed it in your
// app with //go:embed.)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	keyhook "github.com/keyhook/keyhook/clients/go"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floating_seat LICENSE-KEY")
		os.Exit(2)
	}
	key := os.Args[1]
	product := os.Getenv("KEYHOOK_PRODUCT")
	keys, err := os.ReadFile(os.Getenv("KEYHOOK_KEYS"))
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cfg, err := keyhook.NewConfig(os.Getenv("KEYHOOK_URL"), product, keys)
	if err != nil {
		fail(err)
	}
	client, err := keyhook.NewClient(cfg)
	if err != nil {
		fail(err)
	}
	device, err := keyhook.DeviceID(product)
	if err != nil {
		fail(err)
	}

	seat, err := client.Lease(ctx, key, device, "My computer")
	var full *keyhook.ConcurrencyLimitError
	switch {
	case errors.As(err, &full):
		fmt.Fprintf(os.Stderr, "all seats in use (%d of %d); try again later\n", full.InUse, full.MaxConcurrent)
		os.Exit(1)
	case err != nil:
		fail(err)
	}
	defer seat.Close() // gives the seat back
	fmt.Printf("seat taken until %s (heartbeat every %d s)\n", seat.State().ExpiresAt, seat.Answer.Lease.HeartbeatSeconds)

	select {
	case <-ctx.Done():
		fmt.Println("exiting: the seat is given back")
	case <-seat.Lost():
		s := seat.State()
		fmt.Fprintf(os.Stderr, "seat lost: %s (%s)\n", s.Code, s.Detail)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", keyhook.Kind(err), err)
	os.Exit(1)
}
