// A merchant's app, in a few lines: check the license at start, activate this machine on first
// run, keep a license file for offline use.
//
//	KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 KEYHOOK_KEYS=signing-keys.json \
//	  go run ./examples/check_license XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
//
// (signing-keys.json: the body of GET /api/tenants/{tenantId}/signing-keys; embed it in your
// app with //go:embed.)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	keyhook "github.com/keyhook/keyhook/clients/go"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: check_license LICENSE-KEY")
		os.Exit(2)
	}
	key := os.Args[1]
	product := os.Getenv("KEYHOOK_PRODUCT")
	keys, err := os.ReadFile(os.Getenv("KEYHOOK_KEYS"))
	if err != nil {
		fail(err)
	}
	ctx := context.Background()

	cfg, err := keyhook.NewConfig(os.Getenv("KEYHOOK_URL"), product, keys)
	if err != nil {
		fail(err)
	}
	cfg.CacheDir = filepath.Join(os.TempDir(), "myapp-license-"+product)
	cfg.Grace = 14 * 24 * time.Hour
	client, err := keyhook.NewClient(cfg)
	if err != nil {
		fail(err)
	}
	device, err := keyhook.DeviceID(product)
	if err != nil {
		fail(err)
	}

	status, err := client.Validate(ctx, key, device)
	if err == nil && status.Code == "NOT_ACTIVATED" {
		status, err = client.Activate(ctx, key, device, "My computer")
	}
	if err != nil {
		// keyhook.Kind(err): network, server, verification, rollback, grace_expired, ...
		fail(err)
	}
	if !status.Valid {
		fmt.Fprintf(os.Stderr, "license refused: %s (%s)\n", status.Code, status.Detail)
		os.Exit(1)
	}
	// Online: refresh the license file that keeps the app working offline.
	if status.Source == keyhook.SourceOnline {
		_, file, err := client.CheckoutFile(ctx, key, device, 0, true)
		var network *keyhook.NetworkError
		switch {
		case err == nil:
			fmt.Println("offline until", file.ExpiresAt)
		case !errors.As(err, &network):
			fmt.Fprintln(os.Stderr, "no license file:", err)
		}
	}
	fmt.Printf("licensed (%s): %s\n", status.Source, status.Detail)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", keyhook.Kind(err), err)
	os.Exit(1)
}
