package keyhook

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLenientKeyInputHasOneCanonicalForm(t *testing.T) {
	for _, in := range []string{"abcde-fghjk-mnpqr-stvwx-yz012", " ABCDE FGHJK MNPQR STVWX YZ0I2 ", "abcdefghjkmnpqrstvwxyzo12"} {
		if k, ok := CanonicalKey(in); !ok || k != "ABCDEFGHJKMNPQRSTVWXYZ012" {
			t.Errorf("%q: %q %v", in, k, ok)
		}
	}
	for _, in := range []string{"short", "ABCDE-FGHJK-MNPQR-STVWX-YZ01U", "ABCDE-FGHJK-MNPQR-STVWX-YZ01é"} {
		if _, ok := CanonicalKey(in); ok {
			t.Errorf("%q is not a Keyhook key", in)
		}
	}
	id, _ := LicenseID("abcde-fghjk-mnpqr-stvwx-yz012")
	if same, _ := LicenseID("ABCDEFGHJKMNPQRSTVWXYZ012"); id != same || len(id) != 30 || !strings.HasPrefix(id, "lic_") {
		t.Errorf("license id %s", id)
	}
	if string(secretBytes("  legacy key 7 ")) != "legacy key 7" || string(secretBytes("")) != "" {
		t.Error("secret bytes of a key that is not Keyhook's")
	}
}

// The derivations of docs/integrate.md, against values computed independently of this code.
func TestDeviceIDsAndHashesAreTheDocumentedDerivations(t *testing.T) {
	if got := DeviceIDFrom("42", "0123456789abcdef"); got != "6ceec666251ea2092ee1300d1dfe898b711f42106d1db1a4fe2411ed23390e29" {
		t.Errorf("device id %s", got)
	}
	if DeviceIDFrom("43", "0123456789abcdef") == DeviceIDFrom("42", "0123456789abcdef") {
		t.Error("two products get the same id")
	}
	if got := DeviceHash("42", "machine-7f3a"); got != "2631bdf87aa413a0fa0dcb99af3796a863a57b206a505e5563aa54d559d8bf78" {
		t.Errorf("device hash %s", got)
	}
	if DeviceHash("4", "2machine") == DeviceHash("42", "machine") {
		t.Error("the parts are ambiguous")
	}
	if _, err := os.Stat("/etc/machine-id"); err == nil {
		a, err1 := DeviceID("42")
		b, err2 := DeviceID("42")
		if err1 != nil || err2 != nil || a != b || len(a) != 64 {
			t.Errorf("this machine: %s %s %v %v", a, b, err1, err2)
		}
	}
}

func TestMarksOpenOnlyForTheirOwnSlotAndText(t *testing.T) {
	slot := MarkSlot{"42", "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "machine-1"}
	at := time.Date(2026, 11, 25, 0, 0, 0, 123456789, time.UTC)
	mark := SealMark(slot, at)
	if got, err := OpenMark(slot, mark); err != nil || !got.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("open: %v %v", got, err)
	}
	if _, err := OpenMark(MarkSlot{"42", "abcde fghjk mnpqr stvwx yz012", "machine-1"}, mark); err != nil {
		t.Errorf("lenient key input: %v", err)
	}
	upper := strings.Replace(mark, mark[len(mark)-66:len(mark)-2], strings.ToUpper(mark[len(mark)-66:len(mark)-2]), 1)
	if _, err := OpenMark(slot, upper); err != nil {
		t.Errorf("the mac is read case-insensitively: %v", err)
	}
	for _, other := range []MarkSlot{
		{"42", "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP", "machine-1"}, {"42", "", "machine-1"},
		{"43", slot.LicenseKey, "machine-1"}, {"42", slot.LicenseKey, "machine-2"},
	} {
		if _, err := OpenMark(other, mark); Kind(err) != KindRollback {
			t.Errorf("%+v opened another slot's mark", other)
		}
	}
	for _, bad := range []string{
		strings.Replace(mark, "2026-11-25", "2026-11-20", 1), "{}", "", "null", `"x"`,
		strings.Replace(mark, `"format":"keyhook-clock-mark-v1"`, `"format":"keyhook-clock-mark-v2"`, 1),
		strings.Replace(mark, `"highWater"`, `"HighWater"`, 1),
		mark[:len(mark)-4] + `"}`, mark + "x",
	} {
		if _, err := OpenMark(slot, bad); Kind(err) != KindRollback {
			t.Errorf("opened %q", bad)
		}
	}
	// The check: behind beyond the tolerance is a rollback; the mark only moves forward.
	five := 5 * time.Minute
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	stored := SealMark(slot, base)
	if _, err := CheckMark(slot, &stored, true, base.Add(-12*time.Hour), five); Kind(err) != KindRollback {
		t.Errorf("behind: %v", err)
	}
	if next, err := CheckMark(slot, &stored, true, base.Add(-4*time.Minute), five); err != nil || next != stored {
		t.Errorf("jitter: %s %v", next, err)
	}
	if next, _ := CheckMark(slot, &stored, true, base.Add(time.Hour), five); next != SealMark(slot, base.Add(time.Hour)) {
		t.Errorf("forward: %s", next)
	}
	if _, err := CheckMark(slot, nil, true, base, five); Kind(err) != KindRollback {
		t.Errorf("missing: %v", err)
	}
	if next, err := CheckMark(slot, nil, false, base, five); err != nil || next != stored {
		t.Errorf("first use: %s %v", next, err)
	}
}

func TestMembersAreReadByTheirExactNames(t *testing.T) {
	// encoding/json alone would take "ProductId" for "productId".
	f := readObject("answer", []byte(`{"ProductId":"43"}`))
	if f.optString("productId") != nil || f.err != nil {
		t.Error("a member in another case was taken")
	}
	for _, bad := range []string{`[]`, `null`, `{"a":1} x`, `{"a":1}{}`, `{"productId":42}`, `{"productId":"43","productId":"42"}`, `{"productId":"42",}`, `{"productId" "42"}`} {
		f := readObject("answer", []byte(bad))
		f.str("productId")
		if f.err == nil {
			t.Errorf("%s read", bad)
		}
	}
}

func TestKeySetsRefuseMislabelledKeysAndReadRetirements(t *testing.T) {
	v := loadVectors(t)
	keys, err := ParseKeySet(v.Keys)
	if err != nil || keys.Len() != 2 {
		t.Fatalf("%v", err)
	}
	mislabelled := strings.Replace(string(v.Keys), "34750f98bd59fcfc", "0000000000000000", 1)
	if _, err := ParseKeySet([]byte(mislabelled)); Kind(err) != KindVerification {
		t.Errorf("mislabelled: %v", err)
	}
	badTime := strings.Replace(string(v.Keys), "2026-11-20T00:00:00.000Z", "yesterday", 1)
	if _, err := ParseKeySet([]byte(badTime)); Kind(err) != KindVerification {
		t.Errorf("retiredAt: %v", err)
	}
	if _, err := NewConfig("http://x", "42", []byte(`{"keys":[]}`)); Kind(err) != "config" {
		t.Errorf("empty key set: %v", err)
	}
	if err := keys.checkSignedInService("b62e867fa2f33afe", "2026-11-20T00:10:00.000Z"); err != nil {
		t.Errorf("at the tolerance: %v", err)
	}
	if err := keys.checkSignedInService("b62e867fa2f33afe", "2026-11-20T00:10:00.001Z"); Kind(err) != KindRetiredKey {
		t.Errorf("past the tolerance: %v", err)
	}
}
