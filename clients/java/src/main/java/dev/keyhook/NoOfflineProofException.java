package dev.keyhook;

/** Nothing is kept for this license and device ({@link Client#checkOffline}; {@link Client#validate} throws the network error instead). Kind {@code no_offline_proof}. */
public final class NoOfflineProofException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  NoOfflineProofException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public String kind() {
    return "no_offline_proof";
  }
}
