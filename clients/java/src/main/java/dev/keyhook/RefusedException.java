package dev.keyhook;

/**
 * Keyhook refused a license file, a lease, a borrow or a usage record; {@link #code()} is the
 * signed answer's code ({@code DEVICE_LIMIT_REACHED}, {@code REVOKED}, {@code NOT_FOUND}, {@code
 * LEASE_EXPIRED}, ...). Every seat in use and a usage limit reached have their own exceptions,
 * {@link ConcurrencyLimitException} and {@link UsageLimitException}. Kind {@code refused}.
 */
public final class RefusedException extends KeyhookException {
  private static final long serialVersionUID = 1L;
  private final String code;
  private final String detail;

  RefusedException(String code, String detail) {
    super("refused: " + code + ": " + detail, null);
    this.code = code;
    this.detail = detail;
  }

  public String code() {
    return code;
  }

  public String detail() {
    return detail;
  }

  @Override
  public String kind() {
    return "refused";
  }
}
