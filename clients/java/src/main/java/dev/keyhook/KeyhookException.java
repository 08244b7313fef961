package dev.keyhook;

/**
 * Every error this client throws. All are unchecked (Kotlin has no checked exceptions, and a
 * Java caller need not declare them): catch {@code KeyhookException} and read {@link #kind()},
 * or catch the subclass you handle.
 *
 * <p>{@link #kind()} is named the same in every Keyhook client: {@code network}, {@code server},
 * {@code verification}, {@code rollback}, {@code grace_expired}, {@code refused}, {@code
 * concurrency_limit}, {@code usage_limit}, {@code test_license}, {@code retired_key}; and for
 * errors outside those, {@code no_offline_proof}, {@code config}, {@code cache}, {@code
 * fingerprint}.
 */
public abstract class KeyhookException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  KeyhookException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The error's kind, named the same in every Keyhook client. */
  public abstract String kind();
}
