// Package keyhook is the Go client of Keyhook licensing: validate a license key, activate and
// deactivate devices, start trials, check out signed license files that keep the app working
// offline, hold floating seats (Client.Lease) and record usage against a meter's limit
// (Client.RecordUsage).
//
// Every answer is verified before the app sees it: its Ed25519 signature against the tenant's
// published keys (embedded in the app), that it answers this very request (the product, the
// device by hash, the license, the fresh random nonce sent with it), that it is recent, that
// its signing key was not retired before it says it was signed, and that a live build is not
// handed a test license. When Keyhook cannot be reached, a kept license file, else the last
// good answer within the grace period the merchant chooses, carries the app; a clock set back
// is refused offline, even to a day inside a file's life, by the clock mark
// (keyhook-clock-mark-v1: the highest local time observed, MAC'd with a key derived from the
// license key).
//
//	cfg, err := keyhook.NewConfig("https://keyhook.example.com", "42", signingKeys)
//	cfg.CacheDir = filepath.Join(appDir, "license")
//	client, err := keyhook.NewClient(cfg)
//	device, err := keyhook.DeviceID("42")
//	status, err := client.Validate(ctx, key, device)
//
// Standard library only. The formats are those of docs/integrate.md; the same test vectors
// (clients/test-vectors) are checked by the Rust, Python, TypeScript, Go and Java clients.
package keyhook
