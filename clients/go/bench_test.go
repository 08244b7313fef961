package keyhook

import (
	"testing"
	"time"
)

// make bench: the cost of one offline check on the shared vectors, in CPU time of the process
// (GOMAXPROCS=1 in scripts/bench.sh, so the collector's work is counted in the same place) as
// µs-CPU/check, beside go test's own wall-clock ns/op.

func benchCPU(b *testing.B, check func()) {
	check() // warm up
	b.ReportAllocs()
	b.ResetTimer()
	start := processCPU()
	for i := 0; i < b.N; i++ {
		check()
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-start)/float64(time.Microsecond)/float64(b.N), "µs-CPU/check")
}

// BenchmarkSignedAnswer: signature, format, product, device, license, nonce (what the Rust,
// Python and TypeScript benchmarks time).
func BenchmarkSignedAnswer(b *testing.B) {
	v := loadVectors(b)
	keys, err := ParseKeySet(v.Keys)
	if err != nil {
		b.Fatal(err)
	}
	c := v.Answers[0]
	e := c.Expect
	body := []byte(c.Body)
	expected := Expected{ProductID: e.ProductID, DeviceID: deref(e.DeviceID), Nonce: deref(e.Nonce), LicenseKey: deref(e.LicenseKey)}
	benchCPU(b, func() {
		if _, err := VerifyAnswer(keys, body, expected); err != nil {
			b.Fatal(err)
		}
	})
}

func benchFile(b *testing.B, index int) {
	v := loadVectors(b)
	keys, err := ParseKeySet(v.Keys)
	if err != nil {
		b.Fatal(err)
	}
	f := v.Files[index]
	now := mustTime(b, f.Now)
	benchCPU(b, func() {
		p, err := VerifyLicenseFile(keys, f.File, deref(f.LicenseKey))
		if err == nil {
			err = p.Check(f.ProductID, f.DeviceID, now, 5*time.Minute)
		}
		if err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLicenseFile: armour, signature, payload, product, device, times.
func BenchmarkLicenseFile(b *testing.B) { benchFile(b, 0) }

// BenchmarkEncryptedLicenseFile: the same plus HKDF and AES-256-GCM.
func BenchmarkEncryptedLicenseFile(b *testing.B) { benchFile(b, 1) }
