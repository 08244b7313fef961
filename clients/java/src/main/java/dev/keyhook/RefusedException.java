package dev.keyhook;

/**
 * Keyhook refused a license file; {@link #code()} is the signed answer's code ({@code
 * DEVICE_LIMIT_REACHED}, {@code REVOKED}, ...). Kind {@code refused}.
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
