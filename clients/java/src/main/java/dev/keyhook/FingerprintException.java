package dev.keyhook;

/** The machine id cannot be read. Kind {@code fingerprint}. */
public final class FingerprintException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  FingerprintException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public String kind() {
    return "fingerprint";
  }
}
