package dev.keyhook;

/** Keyhook answered an HTTP error ({@code {"error": {"code", "message"}}}). Kind {@code server}. */
public final class ServerException extends KeyhookException {
  private static final long serialVersionUID = 1L;
  private final int status;
  private final String code;
  private final String serverMessage;

  ServerException(int status, String code, String message) {
    super("Keyhook answered " + status + " " + code + ": " + message, null);
    this.status = status;
    this.code = code;
    this.serverMessage = message;
  }

  /** The HTTP status (422, 429, 503, ...). */
  public int status() {
    return status;
  }

  /** The machine-readable code ({@code validation_failed}, {@code rate_limited}, ...). */
  public String code() {
    return code;
  }

  /** The human message. */
  public String serverMessage() {
    return serverMessage;
  }

  @Override
  public String kind() {
    return "server";
  }
}
