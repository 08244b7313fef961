package dev.keyhook;

/** The client's settings cannot be used. Kind {@code config}. */
public final class ConfigException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  ConfigException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public String kind() {
    return "config";
  }
}
