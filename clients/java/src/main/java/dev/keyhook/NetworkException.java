package dev.keyhook;

/** Keyhook could not be reached (and no offline proof was usable). Kind {@code network}. */
public final class NetworkException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  NetworkException(String message, Throwable cause) {
    super("Keyhook is unreachable: " + message, cause);
  }

  @Override
  public String kind() {
    return "network";
  }
}
