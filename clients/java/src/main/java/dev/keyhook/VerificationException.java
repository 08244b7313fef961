package dev.keyhook;

/**
 * An answer or license file that failed verification: never trusted. {@link #reason()} says
 * why, in the names of the shared test vectors ({@code bad_signature}, {@code wrong_nonce},
 * {@code stale}, ...). Kind {@code verification}, except {@code test_license} (a test license in
 * a live build) and {@code retired_key} (signed by a key after its retirement).
 */
public final class VerificationException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  public static final String UNSIGNED = "unsigned";
  public static final String MALFORMED = "malformed";
  public static final String UNSUPPORTED_FORMAT = "unsupported_format";
  public static final String UNKNOWN_KEY = "unknown_key";
  public static final String BAD_PUBLIC_KEY = "bad_public_key";
  public static final String BAD_SIGNATURE = "bad_signature";
  public static final String WRONG_PRODUCT = "wrong_product";
  public static final String WRONG_DEVICE = "wrong_device";
  public static final String WRONG_NONCE = "wrong_nonce";
  public static final String WRONG_LICENSE = "wrong_license";
  public static final String EXPIRED = "expired";
  public static final String STALE = "stale";
  public static final String NOT_YET_VALID = "not_yet_valid";
  public static final String KEY_REQUIRED = "key_required";
  public static final String DECRYPT = "decrypt";
  public static final String RETIRED_KEY = "retired_key";
  public static final String LIFETIME_TOO_LONG = "lifetime_too_long";
  public static final String TEST_LICENSE = "test_license";

  private final String reason;

  VerificationException(String reason, String detail) {
    super("not trusted: " + reason + (detail.isEmpty() ? "" : ": " + detail), null);
    this.reason = reason;
  }

  /** Why it is not trusted (one of the constants of this class). */
  public String reason() {
    return reason;
  }

  @Override
  public String kind() {
    switch (reason) {
      case TEST_LICENSE:
        return "test_license";
      case RETIRED_KEY:
        return "retired_key";
      default:
        return "verification";
    }
  }
}
