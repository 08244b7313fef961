package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * A verified validation answer ({@code keyhook-answer-v2}). Unknown members are ignored (newer
 * servers may add some). Nullable: {@code deviceHash}, {@code licenseId}, {@code license}, {@code
 * trial}, {@code nonce}, {@code manageUrl} (with {@code DEVICE_LIMIT_REACHED}: the license's page
 * in the merchant's customer portal, where the buyer frees a device), {@code lease} (lease and
 * heartbeat answers), {@code seats} (with {@code CONCURRENCY_LIMIT_REACHED}), {@code usage}
 * (usage answers), {@code meters} (validation with {@code include: ["usage"]}). All of them are
 * inside the signature.
 *
 * <p><b>Canonical form.</b> The body is compact JSON whose last member is {@code "signature"};
 * the signature (Ed25519, base64) covers the body up to its last {@code ,"signature":"},
 * followed by {@code }}. Nothing is re-serialised.
 */
public record Answer(
    String format,
    boolean valid,
    String code,
    String detail,
    boolean livemode,
    String productId,
    String deviceHash,
    String licenseId,
    License license,
    Trial trial,
    String nonce,
    String signedAt,
    String kid,
    String manageUrl,
    LeaseInfo lease,
    Seats seats,
    Usage usage,
    List<Usage> meters) {

  /** The format this client verifies. */
  public static final String FORMAT = "keyhook-answer-v2";

  private static final byte[] SIGNATURE_MEMBER = ",\"signature\":\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] UNSIGNED_END = "\"signature\":null}".getBytes(StandardCharsets.US_ASCII);

  /** The license an answer describes ({@code expiresAt} null: it does not expire). */
  public record License(
      String id, String productId, String status, String expiresAt, long maxDevices, long activeDevices) {}

  /** The trial an answer describes. */
  public record Trial(String productId, String deviceHash, String startedAt, String expiresAt) {}

  /**
   * The floating seat a lease or heartbeat answer describes: {@code id} ({@code lse_…}, what
   * heartbeats, borrows and releases name), {@code expiresAt} (the seat is free from then unless
   * a heartbeat extends it), {@code heartbeatSeconds} (how often to heartbeat: a third of the
   * lease), {@code borrowedUntil} (null unless borrowed: held without heartbeats until then).
   */
  public record LeaseInfo(String id, String expiresAt, long heartbeatSeconds, String borrowedUntil) {}

  /** With {@code CONCURRENCY_LIMIT_REACHED}: the seats in use, of how many. */
  public record Seats(long inUse, long maxConcurrent) {}

  /**
   * A meter as a usage answer states it: {@code period} ({@code month}, {@code subscription} or
   * {@code lifetime}), {@code used} in the current period (after this record), {@code limit},
   * {@code remaining}, {@code resetsAt} (when the count starts again; null for {@code lifetime}).
   * With {@code USAGE_LIMIT_REACHED}: the numbers that refused the record.
   */
  public record Usage(String meter, String period, long used, long limit, long remaining, String resetsAt) {}

  /**
   * What the caller asked; an answer about anything else is refused. Null {@code deviceId},
   * {@code nonce} or {@code licenseKey}: none was sent.
   */
  public record Expected(String productId, String deviceId, String nonce, String licenseKey) {}

  /**
   * Checks the signature of an answer (the raw response body) against {@code keys}, its format,
   * that its key was not retired before {@code signedAt}, then that it answers exactly the
   * request {@code expected} describes (product, device, nonce, trial, license). The caller then
   * checks the build's mode ({@link #checkLivemode}) and freshness ({@link #checkFresh}); the
   * {@link Client} does all of it.
   *
   * @throws VerificationException when it is not trusted
   */
  public static Answer verify(KeySet keys, byte[] body, Expected expected) {
    int cut = lastIndexOf(body, SIGNATURE_MEMBER);
    if (cut < 0) {
      if (endsWith(body, UNSIGNED_END)) {
        throw new VerificationException(
            VerificationException.UNSIGNED, "the answer carries no signature (the product is unknown to Keyhook)");
      }
      throw Members.malformed("no signature member");
    }
    byte[] rest = Arrays.copyOfRange(body, cut + SIGNATURE_MEMBER.length, body.length);
    if (!endsWith(rest, new byte[] {'"', '}'})) {
      throw new VerificationException(VerificationException.BAD_SIGNATURE, "the signature does not match");
    }
    String signature = new String(rest, 0, rest.length - 2, StandardCharsets.ISO_8859_1);
    byte[] message = Arrays.copyOf(body, cut + 1);
    message[cut] = '}';

    Members m = Members.parse("answer", message);
    String format = m.optString("format");
    String kid = m.optString("kid");
    if (format == null) {
      throw new VerificationException(VerificationException.UNSUPPORTED_FORMAT, "unsupported format \"keyhook-answer-v1\"");
    }
    if (!format.equals(FORMAT)) {
      throw new VerificationException(VerificationException.UNSUPPORTED_FORMAT, "unsupported format \"" + format + "\"");
    }
    if (kid == null) {
      throw Members.malformed("answer without kid");
    }
    keys.verify(kid, message, signature);
    Answer a = read(m);
    keys.checkSignedInService(a.kid, a.signedAt);
    a.check(expected);
    return a;
  }

  private static Answer read(Members m) {
    Members l = m.optObject("license");
    Members t = m.optObject("trial");
    Members lease = m.optObject("lease");
    Members seats = m.optObject("seats");
    Members usage = m.optObject("usage");
    List<Members> meters = m.optObjects("meters");
    return new Answer(
        m.string("format"),
        m.bool("valid"),
        m.string("code"),
        m.string("detail"),
        m.bool("livemode"),
        m.string("productId"),
        m.optString("deviceHash"),
        m.optString("licenseId"),
        l == null
            ? null
            : new License(
                l.string("id"), l.string("productId"), l.string("status"), l.optString("expiresAt"),
                l.u32("maxDevices"), l.u32("activeDevices")),
        t == null
            ? null
            : new Trial(t.string("productId"), t.string("deviceHash"), t.string("startedAt"), t.string("expiresAt")),
        m.optString("nonce"),
        m.string("signedAt"),
        m.string("kid"),
        m.optString("manageUrl"),
        lease == null
            ? null
            : new LeaseInfo(
                lease.string("id"), lease.string("expiresAt"), lease.u32("heartbeatSeconds"),
                lease.optString("borrowedUntil")),
        seats == null ? null : new Seats(seats.u32("inUse"), seats.u32("maxConcurrent")),
        usage == null ? null : readUsage(usage),
        meters == null ? null : meters.stream().map(Answer::readUsage).toList());
  }

  private static Usage readUsage(Members u) {
    return new Usage(
        u.string("meter"), u.string("period"), u.u53("used"), u.u53("limit"), u.u53("remaining"),
        u.optString("resetsAt"));
  }

  private void check(Expected e) {
    VerificationException wrongDevice =
        new VerificationException(VerificationException.WRONG_DEVICE, "it is about another device");
    VerificationException wrongLicense =
        new VerificationException(VerificationException.WRONG_LICENSE, "it is about another license");
    if (!productId.equals(e.productId())) {
      throw wrongProduct(productId, e.productId());
    }
    String device = e.deviceId() == null ? null : Devices.deviceHash(e.productId(), e.deviceId());
    if (!same(deviceHash, device)) {
      throw wrongDevice;
    }
    if (!same(nonce, e.nonce())) {
      throw new VerificationException(VerificationException.WRONG_NONCE, "it answers another request (nonce mismatch)");
    }
    if (trial != null) {
      if (!trial.productId().equals(e.productId())) {
        throw wrongProduct(trial.productId(), e.productId());
      }
      if (device == null || !trial.deviceHash().equals(device)) {
        throw wrongDevice;
      }
    }
    if (license != null) {
      if (!license.productId().equals(e.productId())) {
        throw wrongProduct(license.productId(), e.productId());
      }
      if (licenseId == null || !license.id().equals(licenseId)) {
        throw wrongLicense;
      }
    }
    if (e.licenseKey() == null) {
      if (licenseId != null || license != null || (valid && trial == null)) {
        throw wrongLicense;
      }
      return;
    }
    if (trial != null) {
      throw wrongLicense;
    }
    String mine = LicenseKeys.licenseId(e.licenseKey());
    if (licenseId != null && mine != null && !licenseId.equals(mine)) {
      throw wrongLicense;
    }
    if (licenseId == null && valid) {
      throw wrongLicense;
    }
  }

  private static VerificationException wrongProduct(String found, String expected) {
    return new VerificationException(
        VerificationException.WRONG_PRODUCT, "it is about product \"" + found + "\", not \"" + expected + "\"");
  }

  private static boolean same(String a, String b) {
    return a == null ? b == null : a.equals(b);
  }

  /**
   * A live build ({@code acceptsTestLicenses} false) refuses a valid answer about a test license
   * ({@code livemode} false). A refusal grants nothing, so it passes whatever its mode.
   */
  public void checkLivemode(boolean acceptsTestLicenses) {
    if (valid && !livemode && !acceptsTestLicenses) {
      throw new VerificationException(
          VerificationException.TEST_LICENSE, "it is about a test license (Stripe test mode), and this is a live build");
    }
  }

  /** {@code signedAt} as an instant. */
  public Instant signedAtInstant() {
    return Times.parse("signedAt", signedAt);
  }

  /** The answer was signed at most {@code maxAge} before {@code now} and at most {@code skew} after it. */
  public void checkFresh(Instant now, Duration maxAge, Duration skew) {
    Instant at = signedAtInstant();
    if (at.isAfter(now.plus(skew))) {
      throw new VerificationException(
          VerificationException.NOT_YET_VALID, "it is dated in the future (" + signedAt + "): the clock is wrong or was set back");
    }
    if (at.plus(maxAge).isBefore(now)) {
      throw new VerificationException(VerificationException.STALE, "it was signed at " + signedAt + ", too long ago");
    }
  }

  private static int lastIndexOf(byte[] body, byte[] what) {
    for (int i = body.length - what.length; i >= 0; i--) {
      boolean match = true;
      for (int j = 0; j < what.length && match; j++) {
        match = body[i + j] == what[j];
      }
      if (match) {
        return i;
      }
    }
    return -1;
  }

  private static boolean endsWith(byte[] body, byte[] end) {
    if (body.length < end.length) {
      return false;
    }
    for (int i = 0; i < end.length; i++) {
      if (body[body.length - end.length + i] != end[i]) {
        return false;
      }
    }
    return true;
  }
}
