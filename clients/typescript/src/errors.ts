/**
 * Typed errors: what went wrong, so the app can tell "refused" from "offline" from "tampered".
 * Every error is a `KeyhookError` whose `kind` names it the same way in every Keyhook client
 * (Rust, Python, TypeScript, Go, Java): network, server, verification, test_license,
 * retired_key, rollback, grace_expired, refused, concurrency_limit, usage_limit, no_offline_proof,
 * config, cache, fingerprint.
 */

export type ErrorKind =
  | "network"
  | "server"
  | "verification"
  | "test_license"
  | "retired_key"
  | "rollback"
  | "grace_expired"
  | "refused"
  | "concurrency_limit"
  | "usage_limit"
  | "no_offline_proof"
  | "config"
  | "cache"
  | "fingerprint";

export class KeyhookError extends Error {
  constructor(
    public readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Keyhook could not be reached (and no offline proof was usable, when one was tried). */
export class NetworkError extends KeyhookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("network", `Keyhook is unreachable: ${message}`, options);
  }
}

/** Keyhook answered an HTTP error (`{ error: { code, message } }`). */
export class ServerError extends KeyhookError {
  constructor(
    public readonly status: number,
    public readonly code: string,
    public readonly serverMessage: string,
  ) {
    super("server", `Keyhook answered ${status} ${code}: ${serverMessage}`);
  }
}

/**
 * An answer or license file failed verification: never trusted. `reason` is the verifier's
 * result (wrong_nonce, bad_signature, stale, expired, …; see ./verify).
 */
export class VerificationError extends KeyhookError {
  constructor(
    public readonly reason: string,
    public readonly detail = "",
    kind: "verification" | "test_license" | "retired_key" = "verification",
  ) {
    super(kind, `not trusted: ${reason}${detail ? `: ${detail}` : ""}`);
  }
}

/** A test license (from a Stripe test-mode payment) granted in a live build. */
export class TestLicenseError extends VerificationError {
  constructor(detail = "") {
    super("test_license", detail, "test_license");
  }
}

/** Signed by a key after its retirement (beyond the tolerance). */
export class RetiredKeyError extends VerificationError {
  constructor(detail = "") {
    super("retired_key", detail, "retired_key");
  }
}

export type RollbackReason = "behind" | "mark_missing" | "mark_altered";

/**
 * The clock cannot be trusted offline: it is behind the clock mark (the highest local time
 * observed) or a signed time, or the mark is missing or altered. Kept proofs are refused until
 * an online check succeeds (which restarts the mark). `highWater`: the time the clock is behind.
 */
export class RollbackError extends KeyhookError {
  constructor(
    public readonly reason: RollbackReason,
    public readonly highWater: string | null = null,
  ) {
    const what = {
      behind: `the clock is behind ${highWater}, a time already seen`,
      mark_missing: "the clock mark is missing while an offline proof is kept",
      mark_altered: "the clock mark does not verify",
    }[reason];
    super("rollback", `the system clock was set back: ${what}`);
  }
}

/** Offline, and the last good answer is older than the grace period. */
export class GraceExpiredError extends KeyhookError {
  constructor(public readonly since: string) {
    super("grace_expired", `offline since ${since}, longer than the grace period`);
  }
}

/** Offline, and nothing is kept for this license and device (`validate` throws the NetworkError instead). */
export class NoOfflineProofError extends KeyhookError {
  constructor(message = "nothing kept for this license and device") {
    super("no_offline_proof", message);
  }
}

/** A license file was refused by Keyhook; `code` is the signed answer's (e.g. DEVICE_LIMIT_REACHED). */
export class RefusedError extends KeyhookError {
  constructor(
    public readonly code: string,
    public readonly detail: string,
  ) {
    super("refused", `refused: ${code}: ${detail}`);
  }
}

/** Every floating seat of the license is in use (CONCURRENCY_LIMIT_REACHED, signed). */
export class ConcurrencyLimitError extends KeyhookError {
  constructor(
    public readonly inUse: number,
    public readonly maxConcurrent: number,
  ) {
    super("concurrency_limit", `every seat is in use (${inUse} of ${maxConcurrent})`);
  }
}

/** The quantity does not fit what remains of the meter this period (USAGE_LIMIT_REACHED, signed); nothing was recorded. */
export class UsageLimitError extends KeyhookError {
  constructor(
    public readonly meter: string,
    public readonly used: number,
    public readonly limit: number,
    public readonly remaining: number,
  ) {
    super("usage_limit", `the ${meter} limit is reached (${used} of ${limit} used, ${remaining} left)`);
  }
}

export class ConfigError extends KeyhookError {
  constructor(message: string) {
    super("config", `configuration: ${message}`);
  }
}

export class CacheError extends KeyhookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("cache", `cache: ${message}`, options);
  }
}

export class FingerprintError extends KeyhookError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("fingerprint", `device fingerprint: ${message}`, options);
  }
}
