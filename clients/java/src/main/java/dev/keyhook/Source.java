package dev.keyhook;

/** Where a {@link Status} comes from. */
public enum Source {
  /** A fresh answer from Keyhook. */
  ONLINE,
  /** Keyhook was unreachable: the last good answer, within the grace period. */
  CACHED_ANSWER,
  /** Keyhook was unreachable (or not asked): a kept license file. */
  LICENSE_FILE
}
