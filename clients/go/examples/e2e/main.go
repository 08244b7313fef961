// The cross-language end-to-end script (tests/clients_e2e.rs, docs: clients/go/e2e.sh): one
// phase of buy-validate-activate-offline (online, offline, rollback), or of floating seats and a
// usage meter (seats), against a running Keyhook, one JSON line per step on stdout:
// {"step","ok","code","offline"}.
//
// Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
// KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT (test or live), KEYHOOK_CLOCK_OFFSET_SECONDS.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	keyhook "github.com/keyhook/keyhook/clients/go"
)

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "e2e: %s is not set\n", name)
		os.Exit(2)
	}
	return v
}

type outcome struct {
	Step    string `json:"step"`
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Offline bool   `json:"offline"`
}

// report prints a step's outcome: the signed answer's code when there is one, else the error's
// kind.
func report(step string, s *keyhook.Status, err error) {
	o := outcome{Step: step}
	var refused *keyhook.RefusedError
	switch {
	case err == nil:
		o.OK, o.Code, o.Offline = s.Valid, s.Code, s.Offline()
	case errors.As(err, &refused):
		o.Code = refused.Code
	default:
		o.Code = keyhook.Kind(err)
		// Decided without an answer from Keyhook.
		switch o.Code {
		case keyhook.KindNetwork, keyhook.KindRollback, keyhook.KindGraceExpired, "no_offline_proof":
			o.Offline = true
		}
		fmt.Fprintf(os.Stderr, "e2e: %s: %v\n", step, err)
	}
	line, _ := json.Marshal(o)
	fmt.Println(string(line))
}

// reportSeat prints a step of the seats phase: ok and code when err is nil; else the limit's
// numbers (CONCURRENCY_LIMIT_REACHED 1/1, USAGE_LIMIT_REACHED 2/2), the signed code of any other
// refusal, or the error's kind.
func reportSeat(step string, ok bool, code string, err error) {
	o := outcome{Step: step, OK: ok, Code: code}
	var (
		refused *keyhook.RefusedError
		seats   *keyhook.ConcurrencyLimitError
		usage   *keyhook.UsageLimitError
	)
	switch {
	case err == nil:
	case errors.As(err, &seats):
		o.OK, o.Code = false, fmt.Sprintf("CONCURRENCY_LIMIT_REACHED %d/%d", seats.InUse, seats.MaxConcurrent)
	case errors.As(err, &usage):
		o.OK, o.Code = false, fmt.Sprintf("USAGE_LIMIT_REACHED %d/%d", usage.Used, usage.Limit)
	case errors.As(err, &refused):
		o.OK, o.Code = false, refused.Code
	default:
		o.OK, o.Code = false, keyhook.Kind(err)
		fmt.Fprintf(os.Stderr, "e2e: %s: %v\n", step, err)
	}
	line, _ := json.Marshal(o)
	fmt.Println(string(line))
}

// keySet fetches the tenant's signing keys online and keeps them in the cache directory; the
// offline phases read the kept copy (an app embeds its set).
func keySet(url, tenant, dir string) []byte {
	path := filepath.Join(dir, "signing-keys.json")
	if kept, err := os.ReadFile(path); err == nil {
		return kept
	}
	res, err := http.Get(url + "/api/tenants/" + tenant + "/signing-keys")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: signing keys:", err)
		os.Exit(1)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		fmt.Fprintln(os.Stderr, "e2e: signing keys:", res.Status, err)
		os.Exit(1)
	}
	if err := os.WriteFile(path, body, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	return body
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: e2e online|offline|rollback|seats")
		os.Exit(2)
	}
	phase := os.Args[1]
	url, product, key, dir := env("KEYHOOK_URL"), env("KEYHOOK_PRODUCT_ID"), env("KEYHOOK_LICENSE_KEY"), env("KEYHOOK_CACHE_DIR")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	keys := keySet(url, env("KEYHOOK_TENANT_ID"), dir)
	cfg, err := keyhook.NewConfig(url, product, keys)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	cfg.CacheDir = dir
	cfg.Environment = keyhook.Environment(env("KEYHOOK_ENVIRONMENT"))
	cfg.Timeout = 5 * time.Second
	if s := os.Getenv("KEYHOOK_CLOCK_OFFSET_SECONDS"); s != "" {
		offset, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: KEYHOOK_CLOCK_OFFSET_SECONDS:", err)
			os.Exit(2)
		}
		cfg.Clock = func() time.Time { return time.Now().Add(time.Duration(offset) * time.Second) }
	}
	client, err := keyhook.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	device := func(name string) string { return keyhook.DeviceIDFrom(product, name) }
	n := 0
	step := func(action, name string) string {
		n++
		return fmt.Sprintf("%s.%d.%s %s", phase, n, action, name)
	}
	validate := func(name string) {
		s, err := client.Validate(ctx, key, device(name))
		report(step("validate", name), s, err)
	}
	activate := func(name string) {
		s, err := client.Activate(ctx, key, device(name), name)
		report(step("activate", name), s, err)
	}
	switch phase {
	case "online":
		validate("dev-A")
		activate("dev-A")
		activate("dev-B")
		activate("dev-C")
		s, err := client.Deactivate(ctx, key, device("dev-B"))
		report(step("deactivate", "dev-B"), s, err)
		activate("dev-C")
		validate("dev-A")
		_, _, err = client.CheckoutFile(ctx, key, device("dev-A"), 0, false)
		if err == nil {
			s = &keyhook.Status{Valid: true, Code: "VALID", Source: keyhook.SourceOnline}
		}
		report(step("checkout", "dev-A"), s, err)
	case "offline", "rollback":
		validate("dev-A")
	case "seats":
		leases := map[string]*keyhook.Lease{}
		lease := func(name string) {
			l, err := client.Lease(ctx, key, device(name), "")
			code := ""
			if err == nil {
				leases[name] = l
				code = l.Answer.Code
			}
			reportSeat(step("lease", name), err == nil, code, err)
		}
		release := func(name string) {
			// A lease never granted is not live either.
			var (
				released bool
				err      error
			)
			if l := leases[name]; l != nil {
				released, err = l.Release(ctx)
			}
			code := "RELEASED"
			if !released {
				code = "NOT_LIVE"
			}
			reportSeat(step("release", name), released, code, err)
		}
		usage := func(name string) {
			s := step("usage", name)
			u, err := client.RecordUsage(ctx, key, "exports", 1,
				&keyhook.UsageOptions{IdempotencyKey: fmt.Sprintf("e2e-seats-%d", n), DeviceID: device(name)})
			code := ""
			if err == nil {
				code = fmt.Sprintf("VALID %d/%d", u.Used, u.Limit)
			}
			reportSeat(s, err == nil, code, err)
		}
		lease("dev-A")
		lease("dev-B")
		release("dev-A")
		lease("dev-B")
		usage("dev-B")
		usage("dev-B")
		usage("dev-B")
		release("dev-B")
	default:
		fmt.Fprintln(os.Stderr, "e2e: unknown phase", phase)
		os.Exit(2)
	}
}
