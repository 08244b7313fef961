package dev.keyhook;

/** Offline, and the last good answer is older than the grace period. Kind {@code grace_expired}. */
public final class GraceExpiredException extends KeyhookException {
  private static final long serialVersionUID = 1L;
  private final String since;

  GraceExpiredException(String since) {
    super("offline since " + since + ", longer than the grace period", null);
    this.since = since;
  }

  /** When the last good answer was signed. */
  public String since() {
    return since;
  }

  @Override
  public String kind() {
    return "grace_expired";
  }
}
