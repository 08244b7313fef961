package dev.keyhook;

import java.util.Objects;

/** Assertions for the tests. */
final class Check {
  private Check() {}

  static void equal(Object actual, Object expected, String what) {
    if (!Objects.equals(actual, expected)) {
      throw new AssertionError(what + ": got " + actual + ", want " + expected);
    }
  }

  static void isTrue(boolean condition, String what) {
    if (!condition) {
      throw new AssertionError(what);
    }
  }

  interface Action {
    void run() throws Exception;
  }

  /** The exception {@code action} throws, which must be a {@code type}. */
  static <T extends Throwable> T thrown(Class<T> type, Action action) {
    try {
      action.run();
    } catch (Throwable t) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
      throw new AssertionError("threw " + t + ", want a " + type.getSimpleName(), t);
    }
    throw new AssertionError("threw nothing, want a " + type.getSimpleName());
  }

  /** {@code action} throws a KeyhookException of this kind. */
  static KeyhookException kind(String kind, Action action) {
    KeyhookException e = thrown(KeyhookException.class, action);
    equal(e.kind(), kind, "kind of " + e);
    return e;
  }

  /** {@code action} throws a VerificationException for this reason. */
  static VerificationException reason(String reason, Action action) {
    VerificationException e = thrown(VerificationException.class, action);
    equal(e.reason(), reason, "reason of " + e);
    return e;
  }

  /** {@code action} throws a RollbackException for this reason. */
  static RollbackException rollback(RollbackException.Reason reason, Action action) {
    RollbackException e = thrown(RollbackException.class, action);
    equal(e.reason(), reason, "reason of " + e);
    equal(e.kind(), "rollback", "kind");
    return e;
  }
}
