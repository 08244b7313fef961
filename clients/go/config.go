package keyhook

import (
	"net/http"
	"strings"
	"time"
)

// Environment is the build the app is. Live (the default) refuses licenses from Stripe
// test-mode payments: online Keyhook answers TEST_LICENSE, offline a test license's file or
// kept answer is refused (test_license). Test accepts them, for your own test builds. Live
// licenses are good in both.
type Environment string

const (
	Live Environment = "live"
	Test Environment = "test"
)

// Config: what the merchant decides. Build it with NewConfig (defaults), then set fields.
type Config struct {
	// Keyhook's base URL (https://...).
	BaseURL string
	// The product this app is.
	ProductID string
	// The tenant's public keys (GET /api/tenants/{tenantId}/signing-keys), embedded.
	Keys *KeySet
	// Live (default) or Test.
	Environment Environment
	// A live build that also trusts test licenses: set it when the product has
	// acceptTestLicenses: true.
	AcceptTestLicenses bool
	// Oldest online answer accepted (default 5 minutes).
	MaxAnswerAge time.Duration
	// Tolerated clock difference with Keyhook (default 5 minutes), and how far behind the
	// clock mark the clock may be before it counts as set back (jitter, NTP corrections).
	ClockSkew time.Duration
	// How long after the last good online answer the app keeps working offline on it
	// (default 7 days). License files have their own expiry.
	Grace time.Duration
	// Where the last good answer, the license file and the clock mark are kept ("": in
	// memory only, nothing survives a restart). One directory per product.
	CacheDir string
	// Timeout of one HTTP request (default 10 s); used when HTTPClient is nil.
	Timeout time.Duration
	// The HTTP client (nil: one with Timeout). Set your own for proxies or extra roots.
	HTTPClient *http.Client
	// The clock (tests set it; apps keep the system clock).
	Clock func() time.Time
}

// NewConfig is the settings with defaults, trusting the key set in keysJSON (the body of
// GET /api/tenants/{tenantId}/signing-keys).
func NewConfig(baseURL, productID string, keysJSON []byte) (*Config, error) {
	keys, err := ParseKeySet(keysJSON)
	if err != nil {
		return nil, err
	}
	if keys.Len() == 0 {
		return nil, &ConfigError{"the key set has no Ed25519 key"}
	}
	return &Config{
		BaseURL:      strings.TrimRight(baseURL, "/"),
		ProductID:    productID,
		Keys:         keys,
		Environment:  Live,
		MaxAnswerAge: 5 * time.Minute,
		ClockSkew:    5 * time.Minute,
		Grace:        7 * 24 * time.Hour,
		Timeout:      10 * time.Second,
		Clock:        time.Now,
	}, nil
}

// AcceptsTestLicenses: whether this build trusts test licenses (a test build, or
// AcceptTestLicenses).
func (c *Config) AcceptsTestLicenses() bool {
	return c.Environment == Test || c.AcceptTestLicenses
}
