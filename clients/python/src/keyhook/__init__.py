"""Keyhook licensing for Python apps: validate license keys, activate and deactivate devices,
start trials, hold floating seats (leases), record metered usage, and check out signed license
files that keep the app working offline. Every answer is verified before you see it (Ed25519
signature against your tenant's published keys, product, device, license, a fresh nonce,
freshness, the build's mode); offline, a kept license file or the last good answer carries the
app through the grace period you choose, and a clock set back is refused (the clock mark). See README.md and docs/integrate.md.

    import keyhook
    client = keyhook.Client("https://keyhook.example.com", "42", signing_keys_json,
                            cache_dir=app_dir / "license")
    status = client.validate(key, keyhook.device_id("42"))

`keyhook.verify` is the offline verifier underneath (the former keyhook_verify.py).
"""

__version__ = "0.1.0"

from . import verify  # noqa: E402
from .cache import slot  # noqa: E402
from .client import (CACHED_ANSWER, LICENSE_FILE, ONLINE, Client, Config,  # noqa: E402
                     Lease, Status, new_nonce, typed_error)
from .errors import (CacheError, ConcurrencyLimitError, ConfigError,  # noqa: E402
                     FingerprintError, GraceExpiredError, KeyhookError, NetworkError,
                     NoOfflineProofError, RefusedError, RetiredKeyError, RollbackError,
                     ServerError, TestLicenseError, UsageLimitError, VerificationError)
from .fingerprint import device_id, device_id_from, machine_id  # noqa: E402
from .verify import KeySet, VerifyError  # noqa: E402

__all__ = [
    "CACHED_ANSWER", "LICENSE_FILE", "ONLINE", "CacheError", "Client", "ConcurrencyLimitError",
    "Config", "ConfigError", "FingerprintError", "GraceExpiredError", "KeySet", "KeyhookError",
    "Lease", "NetworkError", "NoOfflineProofError", "RefusedError", "RetiredKeyError",
    "RollbackError", "ServerError", "Status", "TestLicenseError", "UsageLimitError",
    "VerificationError", "VerifyError",
    "device_id", "device_id_from", "machine_id", "new_nonce", "slot", "typed_error", "verify",
]
