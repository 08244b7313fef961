"""The cross-language end-to-end script (tests/clients_e2e.rs runs it through e2e.sh, the same
script in every language): one phase per run, one JSON line per step on stdout.

    e2e.py online | offline | rollback

Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT, KEYHOOK_CLOCK_OFFSET_SECONDS (optional).
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


def main(phase: str) -> None:
    env = os.environ
    url, product, key = env["KEYHOOK_URL"], env["KEYHOOK_PRODUCT_ID"], env["KEYHOOK_LICENSE_KEY"]
    cache = pathlib.Path(env["KEYHOOK_CACHE_DIR"])
    offset = timedelta(seconds=int(env.get("KEYHOOK_CLOCK_OFFSET_SECONDS") or 0))
    keys = cache / "keys.json"
    if phase == "online":
        cache.mkdir(parents=True, exist_ok=True)
        tenant = env["KEYHOOK_TENANT_ID"]
        with urllib.request.urlopen(f"{url}/api/tenants/{tenant}/signing-keys", timeout=10) as r:
            keys.write_bytes(r.read())
    client = keyhook.Client(url, product, keys.read_text(), cache_dir=cache,
                            environment=env.get("KEYHOOK_ENVIRONMENT", "live"),
                            clock=lambda: datetime.now(timezone.utc) + offset)
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
        sys.exit("usage: e2e.py online|offline|rollback")
    main(sys.argv[1])
