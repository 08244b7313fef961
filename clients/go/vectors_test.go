package keyhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The shared test vectors (clients/test-vectors/vectors.json), made by the server's own signing
// code: every case gives its result through the client, and leaves the clock mark they say.

type vectorFile struct {
	MaxAnswerAgeSeconds int64           `json:"maxAnswerAgeSeconds"`
	ClockSkewSeconds    int64           `json:"clockSkewSeconds"`
	Keys                json.RawMessage `json:"keys"`
	Answers             []struct {
		Name        string `json:"name"`
		Body        string `json:"body"`
		Environment string `json:"environment"`
		Now         string `json:"now"`
		Result      string `json:"result"`
		Expect      struct {
			ProductID  string  `json:"productId"`
			DeviceID   *string `json:"deviceId"`
			Nonce      *string `json:"nonce"`
			LicenseKey *string `json:"licenseKey"`
		} `json:"expect"`
	} `json:"answers"`
	Files []struct {
		Name        string  `json:"name"`
		File        string  `json:"file"`
		ProductID   string  `json:"productId"`
		DeviceID    string  `json:"deviceId"`
		LicenseKey  *string `json:"licenseKey"`
		Environment string  `json:"environment"`
		Now         string  `json:"now"`
		Mark        *string `json:"mark"`
		Kept        bool    `json:"kept"`
		MarkAfter   *string `json:"markAfter"`
		Result      string  `json:"result"`
	} `json:"files"`
	Marks []struct {
		ProductID  string  `json:"productId"`
		LicenseKey *string `json:"licenseKey"`
		DeviceID   string  `json:"deviceId"`
		HighWater  string  `json:"highWater"`
		Mark       string  `json:"mark"`
	} `json:"marks"`
	LicenseIDs []struct {
		Key       string  `json:"key"`
		LicenseID *string `json:"licenseId"`
	} `json:"licenseIds"`
	DeviceIDs []struct {
		ProductID string `json:"productId"`
		MachineID string `json:"machineId"`
		DeviceID  string `json:"deviceId"`
	} `json:"deviceIds"`
}

func loadVectors(t testing.TB) *vectorFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "test-vectors", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// result names an outcome as the vectors do.
func result(err error) string {
	var v *VerifyError
	var r *RollbackError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &v):
		return v.Reason
	case errors.As(err, &r):
		return "clock_rollback"
	}
	return "unexpected: " + err.Error()
}

func vectorClient(t *testing.T, v *vectorFile, product, environment string, now time.Time, dir string) *Client {
	t.Helper()
	cfg, err := NewConfig("http://127.0.0.1:9", product, v.Keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Environment = Environment(environment)
	cfg.MaxAnswerAge = time.Duration(v.MaxAnswerAgeSeconds) * time.Second
	cfg.ClockSkew = time.Duration(v.ClockSkewSeconds) * time.Second
	cfg.Clock = func() time.Time { return now }
	cfg.CacheDir = dir
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEveryAnswerVectorGivesItsResult(t *testing.T) {
	v := loadVectors(t)
	if len(v.Answers) < 22 {
		t.Fatalf("only %d answer vectors", len(v.Answers))
	}
	for _, c := range v.Answers {
		t.Run(c.Name, func(t *testing.T) {
			e := c.Expect
			client := vectorClient(t, v, e.ProductID, c.Environment, mustTime(t, c.Now), "")
			_, err := client.VerifyAnswer([]byte(c.Body), deref(e.LicenseKey), deref(e.DeviceID), deref(e.Nonce))
			if got := result(err); got != c.Result {
				t.Errorf("got %s (%v), want %s", got, err, c.Result)
			}
		})
	}
}

func TestEveryFileVectorGivesItsResultAndLeavesItsMark(t *testing.T) {
	v := loadVectors(t)
	if len(v.Files) < 24 {
		t.Fatalf("only %d file vectors", len(v.Files))
	}
	for _, c := range v.Files {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			key := deref(c.LicenseKey)
			slot := cacheSlot(c.ProductID, key, c.DeviceID)
			markPath := filepath.Join(dir, "mark-"+slot+".json")
			// The slot as a client leaves it: its clock mark, and a proof it keeps.
			if c.Mark != nil {
				if err := os.WriteFile(markPath, []byte(*c.Mark), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if c.Kept {
				if err := os.WriteFile(filepath.Join(dir, "file-"+slot+".lic"), []byte(c.File), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			client := vectorClient(t, v, c.ProductID, c.Environment, mustTime(t, c.Now), dir)
			p, err := client.VerifyFile(c.File, key, c.DeviceID)
			if got := result(err); got != c.Result {
				t.Errorf("got %s (%v), want %s", got, err, c.Result)
			}
			if err == nil && !reflect.DeepEqual(p.Entitlements, []string{"pro", "export"}) {
				t.Errorf("entitlements %v", p.Entitlements)
			}
			want := c.MarkAfter
			if want == nil {
				want = c.Mark // refused: the mark is left as it was
			}
			stored, err := os.ReadFile(markPath)
			switch {
			case want == nil && err == nil:
				t.Errorf("a mark was stored: %s", stored)
			case want != nil && (err != nil || string(stored) != *want):
				t.Errorf("mark after: %s, want %s", stored, *want)
			}
			// The same check through the functions underneath.
			after, err := CheckMark(MarkSlot{c.ProductID, key, c.DeviceID}, c.Mark, c.Kept, mustTime(t, c.Now), client.config.ClockSkew)
			if c.MarkAfter == nil {
				if result(err) != "clock_rollback" {
					t.Errorf("CheckMark: %v", err)
				}
			} else if after != *c.MarkAfter {
				t.Errorf("CheckMark: %s", after)
			}
		})
	}
}

func TestEveryMarkVectorSealsAndOpens(t *testing.T) {
	v := loadVectors(t)
	if len(v.Marks) < 4 {
		t.Fatalf("only %d mark vectors", len(v.Marks))
	}
	for _, c := range v.Marks {
		slot := MarkSlot{c.ProductID, deref(c.LicenseKey), c.DeviceID}
		at := mustTime(t, c.HighWater)
		if got := SealMark(slot, at); got != c.Mark {
			t.Errorf("key %q: sealed %s, want %s", deref(c.LicenseKey), got, c.Mark)
		}
		if got, err := OpenMark(slot, c.Mark); err != nil || !got.Equal(at) {
			t.Errorf("key %q: opened %v, %v", deref(c.LicenseKey), got, err)
		}
	}
}

func TestLicenseIDsMatchTheServer(t *testing.T) {
	v := loadVectors(t)
	var body struct {
		LicenseID string `json:"licenseId"`
	}
	c := v.Answers[0]
	if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
		t.Fatal(err)
	}
	if id, ok := LicenseID(*c.Expect.LicenseKey); !ok || id != body.LicenseID {
		t.Errorf("license id %s, want %s", id, body.LicenseID)
	}
}

// The license-id and device-id vectors, where the vectors have them.
func TestEveryLicenseIDAndDeviceIDVector(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.LicenseIDs {
		id, ok := LicenseID(c.Key)
		if want := deref(c.LicenseID); id != want || ok != (c.LicenseID != nil) {
			t.Errorf("license id of %q: %q %v, want %q", c.Key, id, ok, want)
		}
	}
	for _, c := range v.DeviceIDs {
		if got := DeviceIDFrom(c.ProductID, c.MachineID); got != c.DeviceID {
			t.Errorf("device id of (%q, %q): %s, want %s", c.ProductID, c.MachineID, got, c.DeviceID)
		}
	}
	t.Logf("%d license-id and %d device-id vectors", len(v.LicenseIDs), len(v.DeviceIDs))
}
