package dev.keyhook;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * What a verified license file says. {@code license.expiresAt} is null for a perpetual license;
 * {@code expiresAt} is when the file stops being valid, whatever the license's own expiry.
 */
public record FilePayload(
    String format,
    String kid,
    String tenantId,
    String licenseId,
    String productId,
    String deviceHash,
    boolean livemode,
    License license,
    List<String> entitlements,
    String issuedAt,
    String expiresAt) {

  /** The license as of the file's issue. */
  public record License(String status, String expiresAt, long maxDevices, long maxIps) {}

  static FilePayload read(Members m) {
    Members l = m.optObject("license");
    if (l == null) {
      throw Members.malformed("license file payload: missing license");
    }
    return new FilePayload(
        m.string("format"),
        m.string("kid"),
        m.string("tenantId"),
        m.string("licenseId"),
        m.string("productId"),
        m.string("deviceHash"),
        m.bool("livemode"),
        new License(l.string("status"), l.optString("expiresAt"), l.u32("maxDevices"), l.u32("maxIps")),
        m.strings("entitlements"),
        m.string("issuedAt"),
        m.string("expiresAt"));
  }

  /** Whether the product grants {@code entitlement} (feature names the merchant defines). */
  public boolean has(String entitlement) {
    return entitlements.contains(entitlement);
  }

  /**
   * The file is for {@code productId} on {@code deviceId}, issued no later than {@code now +
   * skew}, and neither the file nor the license has expired at {@code now}.
   */
  public void check(String productId, String deviceId, Instant now, Duration skew) {
    if (!this.productId.equals(productId)) {
      throw new VerificationException(
          VerificationException.WRONG_PRODUCT, "it is about product \"" + this.productId + "\", not \"" + productId + "\"");
    }
    if (!deviceHash.equals(Devices.deviceHash(productId, deviceId))) {
      throw new VerificationException(VerificationException.WRONG_DEVICE, "it is about another device");
    }
    if (Times.parse("issuedAt", issuedAt).isAfter(now.plus(skew))) {
      throw new VerificationException(
          VerificationException.NOT_YET_VALID, "it is dated in the future (" + issuedAt + "): the clock is wrong or was set back");
    }
    if (!Times.parse("expiresAt", expiresAt).isAfter(now)) {
      throw new VerificationException(VerificationException.EXPIRED, "it expired at " + expiresAt);
    }
    if (license.expiresAt() != null && !Times.parse("license.expiresAt", license.expiresAt()).isAfter(now)) {
      throw new VerificationException(VerificationException.EXPIRED, "it expired at " + license.expiresAt());
    }
  }

  /** A live build ({@code acceptsTestLicenses} false) refuses the file of a test license. */
  public void checkLivemode(boolean acceptsTestLicenses) {
    if (!livemode && !acceptsTestLicenses) {
      throw new VerificationException(
          VerificationException.TEST_LICENSE, "it is about a test license (Stripe test mode), and this is a live build");
    }
  }
}
