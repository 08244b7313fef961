package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/** License keys, device ids, clock marks and key sets, below the client. */
public final class FormatTest {
  @Test
  void lenientKeyInputHasOneCanonicalForm() {
    for (String in : new String[] {"abcde-fghjk-mnpqr-stvwx-yz012", " ABCDE FGHJK MNPQR STVWX YZ0I2 ", "abcdefghjkmnpqrstvwxyzo12", "ABCDE\u00a0FGHJK\u00a0MNPQR\u00a0STVWX\u00a0YZ012"}) {
      Check.equal(LicenseKeys.canonical(in), "ABCDEFGHJKMNPQRSTVWXYZ012", in);
    }
    for (String in : new String[] {"short", "ABCDE-FGHJK-MNPQR-STVWX-YZ01U", "ABCDE-FGHJK-MNPQR-STVWX-YZ01é", "\ufeffABCDE-FGHJK-MNPQR-STVWX-YZ012", "ABCDE-FGHJK-MNPQR-STVWX-YZ0\u01312"}) {
      Check.equal(LicenseKeys.canonical(in), null, in + " is not a Keyhook key");
    }
    String id = LicenseKeys.licenseId("abcde-fghjk-mnpqr-stvwx-yz012");
    Check.equal(id, LicenseKeys.licenseId("ABCDEFGHJKMNPQRSTVWXYZ012"), "same key, same id");
    Check.isTrue(id.startsWith("lic_") && id.length() == 30, "license id " + id);
    Check.equal(new String(LicenseKeys.secretBytes("  legacy key 7 "), StandardCharsets.UTF_8), "legacy key 7", "trimmed");
    Check.equal(LicenseKeys.secretBytes(null).length, 0, "a trial has no key");
  }

  /** The derivations of docs/integrate.md, against values computed independently of this code. */
  @Test
  void deviceIdsAndHashesAreTheDocumentedDerivations() throws Exception {
    Check.equal(Devices.deviceIdFrom("42", "0123456789abcdef"), "6ceec666251ea2092ee1300d1dfe898b711f42106d1db1a4fe2411ed23390e29", "device id");
    Check.isTrue(!Devices.deviceIdFrom("43", "0123456789abcdef").equals(Devices.deviceIdFrom("42", "0123456789abcdef")), "per product");
    Check.equal(Devices.deviceHash("42", "machine-7f3a"), "2631bdf87aa413a0fa0dcb99af3796a863a57b206a505e5563aa54d559d8bf78", "device hash");
    Check.isTrue(!Devices.deviceHash("4", "2machine").equals(Devices.deviceHash("42", "machine")), "unambiguous");
    if (Files.exists(Path.of("/etc/machine-id"))) {
      String a = Devices.deviceId("42");
      Check.isTrue(a.length() == 64 && a.equals(Devices.deviceId("42")), "this machine: " + a);
      Check.equal(a, Devices.deviceIdFrom("42", Files.readString(Path.of("/etc/machine-id")).trim()), "from /etc/machine-id");
    }
  }

  @Test
  void marksOpenOnlyForTheirOwnSlotAndText(Cases cases) {
    ClockMark.Slot slot = new ClockMark.Slot("42", "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "machine-1");
    Instant at = Instant.parse("2026-11-25T00:00:00.123456789Z");
    String mark = ClockMark.seal(slot, at);
    Check.equal(ClockMark.open(slot, mark), Instant.parse("2026-11-25T00:00:00.123Z"), "milliseconds kept");
    Check.equal(ClockMark.open(new ClockMark.Slot("42", "abcde fghjk mnpqr stvwx yz012", "machine-1"), mark), Instant.parse("2026-11-25T00:00:00.123Z"), "lenient key");
    String mac = mark.substring(mark.length() - 66, mark.length() - 2);
    ClockMark.open(slot, mark.replace(mac, mac.toUpperCase(java.util.Locale.ROOT)));
    for (ClockMark.Slot other : new ClockMark.Slot[] {
        new ClockMark.Slot("42", "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP", "machine-1"), new ClockMark.Slot("42", null, "machine-1"),
        new ClockMark.Slot("43", slot.licenseKey(), "machine-1"), new ClockMark.Slot("42", slot.licenseKey(), "machine-2")}) {
      cases.run("another slot " + other, () -> Check.rollback(RollbackException.Reason.MARK_ALTERED, () -> ClockMark.open(other, mark)));
    }
    for (String bad : new String[] {
        mark.replace("2026-11-25", "2026-11-20"), "{}", "", "null", "\"x\"",
        mark.replace("\"format\":\"keyhook-clock-mark-v1\"", "\"format\":\"keyhook-clock-mark-v2\""),
        mark.replace("\"highWater\"", "\"HighWater\""), mark.substring(0, mark.length() - 4) + "\"}", mark + "x",
        mark.replace("{", "{\"mac\":\"00\","), mark.replace(mac, "g" + mac.substring(1))}) {
      cases.run("refuses " + bad, () -> Check.rollback(RollbackException.Reason.MARK_ALTERED, () -> ClockMark.open(slot, bad)));
    }
    Duration five = Duration.ofMinutes(5);
    Instant base = Instant.parse("2026-11-25T00:00:00Z");
    String stored = ClockMark.seal(slot, base);
    cases.run("behind", () -> Check.rollback(RollbackException.Reason.BEHIND, () -> ClockMark.check(slot, stored, true, base.minus(Duration.ofHours(12)), five)));
    cases.run("jitter", () -> Check.equal(ClockMark.check(slot, stored, true, base.minus(Duration.ofMinutes(4)), five), stored, "jitter"));
    cases.run("forward", () -> Check.equal(ClockMark.check(slot, stored, true, base.plus(Duration.ofHours(1)), five), ClockMark.seal(slot, base.plus(Duration.ofHours(1))), "forward"));
    cases.run("missing", () -> Check.rollback(RollbackException.Reason.MARK_MISSING, () -> ClockMark.check(slot, null, true, base, five)));
    cases.run("first use", () -> Check.equal(ClockMark.check(slot, null, false, base, five), stored, "first use"));
  }

  @Test
  void keySetsRefuseMislabelledKeysAndReadRetirements() {
    String keys = Vectors.keys();
    KeySet set = KeySet.parse(keys);
    Check.equal(set.size(), 2, "keys");
    Check.reason(VerificationException.MALFORMED, () -> KeySet.parse(keys.replace("34750f98bd59fcfc", "0000000000000000")));
    Check.reason(VerificationException.MALFORMED, () -> KeySet.parse(keys.replace("2026-11-20T00:00:00.000Z", "yesterday")));
    Check.reason(VerificationException.MALFORMED, () -> KeySet.parse(keys.replace("2026-11-20T00:00:00.000Z", "2026-11-20T00:00Z")));
    Check.reason(VerificationException.BAD_PUBLIC_KEY, () -> KeySet.parse(keys.replace("iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=", "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w")));
    Check.kind("config", () -> Config.of("http://x", "42", "{\"keys\":[]}"));
    set.checkSignedInService("b62e867fa2f33afe", "2026-11-20T00:10:00.000Z");
    Check.kind("retired_key", () -> set.checkSignedInService("b62e867fa2f33afe", "2026-11-20T00:10:00.001Z"));
  }

  @Test
  void membersAreReadByTypeAndExactName() {
    Members m = Members.parse("answer", "{\"ProductId\":\"43\",\"n\":4294967296,\"f\":1.5,\"s\":\"x\"}".getBytes(StandardCharsets.UTF_8));
    Check.equal(m.optString("productId"), null, "a member in another case is another member");
    Check.reason(VerificationException.MALFORMED, () -> m.u32("n"));
    Check.reason(VerificationException.MALFORMED, () -> m.u32("f"));
    Check.reason(VerificationException.MALFORMED, () -> m.bool("s"));
    Check.equal(m.u53("n"), 4294967296L, "u53");
    Members big = Members.parse("usage", "{\"max\":9007199254740991,\"over\":9007199254740992,\"neg\":-1}".getBytes(StandardCharsets.UTF_8));
    Check.equal(big.u53("max"), (1L << 53) - 1, "the largest u53");
    Check.reason(VerificationException.MALFORMED, () -> big.u53("over"));
    Check.reason(VerificationException.MALFORMED, () -> big.u53("neg"));
    Check.reason(VerificationException.MALFORMED, () -> m.u53("f"));
    Check.reason(VerificationException.MALFORMED, () -> m.string("absent"));
    Check.reason(VerificationException.MALFORMED, () -> Members.parse("answer", "[]".getBytes(StandardCharsets.UTF_8)));
    Check.reason(VerificationException.MALFORMED, () -> Members.parse("answer", "{\"a\":1,\"a\":1}".getBytes(StandardCharsets.UTF_8)));
  }
}
