package dev.keyhook;

/** The cache directory cannot be written. Kind {@code cache}. */
public final class CacheException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  CacheException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public String kind() {
    return "cache";
  }
}
