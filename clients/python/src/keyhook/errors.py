"""Typed errors: what went wrong, so the app can tell "refused" from "offline" from "tampered".

Every error is a `KeyhookError` whose `kind` names it the same way in every Keyhook client
(Rust, Python, TypeScript, Go, Java): network, server, verification, test_license, retired_key,
rollback, grace_expired, refused, concurrency_limit, usage_limit, no_offline_proof, config,
cache, fingerprint.
"""

from __future__ import annotations


class KeyhookError(Exception):
    kind = "keyhook"


class NetworkError(KeyhookError):
    """Keyhook could not be reached (and no offline proof was usable, when one was tried)."""

    kind = "network"


class ServerError(KeyhookError):
    """Keyhook answered an HTTP error (`{ error: { code, message } }`)."""

    kind = "server"

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"Keyhook answered {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class VerificationError(KeyhookError):
    """An answer or license file failed verification: never trusted. `reason` is the
    verifier's result (wrong_nonce, bad_signature, stale, expired, …; see keyhook.verify)."""

    kind = "verification"

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"not trusted: {reason}" + (f": {detail}" if detail else ""))
        self.reason = reason
        self.detail = detail


class TestLicenseError(VerificationError):
    """A test license (from a Stripe test-mode payment) granted in a live build."""

    kind = "test_license"
    __test__ = False  # not a test case, whatever its name says


class RetiredKeyError(VerificationError):
    """Signed by a key after its retirement (beyond the tolerance)."""

    kind = "retired_key"


class RollbackError(KeyhookError):
    """The clock cannot be trusted offline: it is behind the clock mark (the highest local time
    observed) or a signed time, or the mark is missing or altered. Kept proofs are refused until
    an online check succeeds (which restarts the mark). `reason`: behind, mark_missing,
    mark_altered; `high_water`: the time the clock is behind (for `behind`)."""

    kind = "rollback"

    def __init__(self, reason: str, high_water: str | None = None):
        what = {"behind": f"the clock is behind {high_water}, a time already seen",
                "mark_missing": "the clock mark is missing while an offline proof is kept",
                "mark_altered": "the clock mark does not verify"}[reason]
        super().__init__(f"the system clock was set back: {what}")
        self.reason = reason
        self.high_water = high_water


class GraceExpiredError(KeyhookError):
    """Offline, and the last good answer is older than the grace period."""

    kind = "grace_expired"

    def __init__(self, since: str):
        super().__init__(f"offline since {since}, longer than the grace period")
        self.since = since


class NoOfflineProofError(KeyhookError):
    """Offline, and nothing is kept for this license and device (`check_offline`; `validate`
    raises the NetworkError instead)."""

    kind = "no_offline_proof"


class RefusedError(KeyhookError):
    """A license file was refused by Keyhook; `code` is the signed answer's (e.g.
    DEVICE_LIMIT_REACHED)."""

    kind = "refused"

    def __init__(self, code: str, detail: str):
        super().__init__(f"refused: {code}: {detail}")
        self.code = code
        self.detail = detail


class ConcurrencyLimitError(KeyhookError):
    """Every floating seat of the license is in use (CONCURRENCY_LIMIT_REACHED, signed): lease
    again later, or tell the user how many seats are taken."""

    kind = "concurrency_limit"

    def __init__(self, in_use: int, max_concurrent: int):
        super().__init__(f"every seat is in use ({in_use} of {max_concurrent})")
        self.in_use = in_use
        self.max_concurrent = max_concurrent


class UsageLimitError(KeyhookError):
    """The quantity does not fit what remains of the meter this period (USAGE_LIMIT_REACHED,
    signed); nothing was recorded."""

    kind = "usage_limit"

    def __init__(self, meter: str, used: int, limit: int, remaining: int):
        super().__init__(f"the {meter} limit is reached ({used} of {limit} used, "
                         f"{remaining} left)")
        self.meter = meter
        self.used = used
        self.limit = limit
        self.remaining = remaining


class ConfigError(KeyhookError):
    kind = "config"


class CacheError(KeyhookError):
    kind = "cache"


class FingerprintError(KeyhookError):
    kind = "fingerprint"
