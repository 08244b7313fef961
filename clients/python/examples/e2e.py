"""The cross-language end-to-end script (tests/clients_e2e.rs runs it through e2e.sh, the same
script in every language): one phase per run, one JSON line per step on stdout.

    e2e.py online | offline | rollback | seats

Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT, KEYHOOK_CLOCK_OFFSET_SECONDS (optional). For `seats`, the
product is a floating one (maxConcurrent 1) with a meter `exports` (limit 2 per month).
"""

import json
import os
import pathlib
import sys
import urllib.request
from datetime import datetime, timedelta, timezone

import keyhook

STEPS = {
    "online": [("validate", "dev-A"), ("activate", "dev-A"), ("activate", "dev-B"),
               ("activate", "dev-C"), ("deactivate", "dev-B"), ("activate", "dev-C"),
               ("validate", "dev-A"), ("checkout", "dev-A")],
    "offline": [("validate", "dev-A")],
    "rollback": [("validate", "dev-A")],
    "seats": [("lease", "dev-A"), ("lease", "dev-B"), ("release", "dev-A"), ("lease", "dev-B"),
              ("usage", "dev-B"), ("usage", "dev-B"), ("usage", "dev-B"), ("release", "dev-B")],
}
# Errors that come from what the app keeps, Keyhook being unreachable.
OFFLINE_KINDS = {"network", "rollback", "grace_expired", "no_offline_proof"}


def outcome(run) -> dict:
    """ok: the standing is valid; code: the signed answer's code (VALID for a license file
    checked out), or the error's kind; offline: decided without an answer from Keyhook."""
    try:
        s = run()
        if isinstance(s, tuple):  # a checked-out license file (text, payload)
            return {"ok": True, "code": "VALID", "offline": False}
        return {"ok": s.valid, "code": s.code, "offline": s.offline}
    except keyhook.RefusedError as e:
        return {"ok": False, "code": e.code, "offline": False}
    except keyhook.KeyhookError as e:
        return {"ok": False, "code": e.kind, "offline": e.kind in OFFLINE_KINDS}


def seat_outcome(run) -> dict:
    """The seats phase: run returns (ok, code); the limit errors print their numbers, any other
    refusal its signed code, any other error its kind; always online."""
    try:
        ok, code = run()
        return {"ok": ok, "code": code, "offline": False}
    except keyhook.ConcurrencyLimitError as e:
        return {"ok": False, "code": f"CONCURRENCY_LIMIT_REACHED {e.in_use}/{e.max_concurrent}",
                "offline": False}
    except keyhook.UsageLimitError as e:
        return {"ok": False, "code": f"USAGE_LIMIT_REACHED {e.used}/{e.limit}", "offline": False}
    except keyhook.RefusedError as e:
        return {"ok": False, "code": e.code, "offline": False}
    except keyhook.KeyhookError as e:
        return {"ok": False, "code": e.kind, "offline": False}


def seats(client: keyhook.Client, product: str, key: str) -> None:
    """lease D: a floating seat, kept by name; release D: gives it back (RELEASED, or NOT_LIVE
    when it was no longer live); usage D: 1 export from D, idempotency key e2e-seats-<n>."""
    leases: dict[str, keyhook.Lease] = {}

    def lease(n: int, name: str, device: str) -> tuple[bool, str]:
        seat = client.lease(key, device)
        leases[name] = seat
        return True, seat.answer["code"]

    def release(n: int, name: str, device: str) -> tuple[bool, str]:
        seat = leases.pop(name, None)
        if seat is not None and seat.release():
            return True, "RELEASED"
        return False, "NOT_LIVE"

    def usage(n: int, name: str, device: str) -> tuple[bool, str]:
        u = client.record_usage(key, "exports", 1, idempotency_key=f"e2e-seats-{n}",
                                device_id=device)
        return True, f"VALID {u['used']}/{u['limit']}"

    actions = {"lease": lease, "release": release, "usage": usage}
    try:
        for n, (action, name) in enumerate(STEPS["seats"], 1):
            device = keyhook.device_id_from(product, name)
            line = {"step": f"seats.{n}.{action} {name}",
                    **seat_outcome(lambda: actions[action](n, name, device))}
            print(json.dumps(line), flush=True)
    finally:
        for seat in leases.values():  # none by step 8; stop any heartbeats left
            seat.close()


def main(phase: str) -> None:
    env = os.environ
    url, product, key = env["KEYHOOK_URL"], env["KEYHOOK_PRODUCT_ID"], env["KEYHOOK_LICENSE_KEY"]
    cache = pathlib.Path(env["KEYHOOK_CACHE_DIR"])
    offset = timedelta(seconds=int(env.get("KEYHOOK_CLOCK_OFFSET_SECONDS") or 0))
    keys = cache / "keys.json"
    if phase in ("online", "seats"):
        cache.mkdir(parents=True, exist_ok=True)
        tenant = env["KEYHOOK_TENANT_ID"]
        with urllib.request.urlopen(f"{url}/api/tenants/{tenant}/signing-keys", timeout=10) as r:
            keys.write_bytes(r.read())
    client = keyhook.Client(url, product, keys.read_text(), cache_dir=cache,
                            environment=env.get("KEYHOOK_ENVIRONMENT", "live"),
                            clock=lambda: datetime.now(timezone.utc) + offset)
    if phase == "seats":
        seats(client, product, key)
        return
    actions = {
        "validate": client.validate,
        "activate": client.activate,
        "deactivate": client.deactivate,
        "checkout": client.checkout_file,
    }
    for n, (action, name) in enumerate(STEPS[phase], 1):
        device = keyhook.device_id_from(product, name)
        line = {"step": f"{phase}.{n}.{action} {name}",
                **outcome(lambda: actions[action](key, device))}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in STEPS:
        sys.exit("usage: e2e.py online|offline|rollback|seats")
    main(sys.argv[1])
