"""A merchant's app, in a few lines: check the license at start, activate this machine on first
run, keep a license file for offline use.

    KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 KEYHOOK_KEYS=signing-keys.json \\
        python examples/check_license.py XXXXX-XXXXX-XXXXX-XXXXX-XXXXX

(signing-keys.json: the body of GET /api/tenants/{tenantId}/signing-keys; ship it with your
app.)
"""

import os
import pathlib
import sys
import tempfile
from datetime import timedelta

import keyhook


def main() -> int:
    product = os.environ["KEYHOOK_PRODUCT"]
    key = sys.argv[1]
    client = keyhook.Client(os.environ["KEYHOOK_URL"], product,
                            pathlib.Path(os.environ["KEYHOOK_KEYS"]).read_text(),
                            cache_dir=pathlib.Path(tempfile.gettempdir()) / f"myapp-license-{product}",
                            grace=timedelta(days=14))
    device = keyhook.device_id(product)

    status = client.validate(key, device)
    if status.code == "NOT_ACTIVATED":
        status = client.activate(key, device, "My computer")
    if not status.valid:
        print(f"license refused: {status.code} ({status.detail})", file=sys.stderr)
        return 1
    # Online: refresh the license file that keeps the app working offline.
    if status.source == keyhook.ONLINE:
        try:
            _, payload = client.checkout_file(key, device, encrypt=True)
            print(f"offline until {payload['expiresAt']}")
        except keyhook.NetworkError:
            pass
        except keyhook.KeyhookError as e:
            print(f"no license file: {e}", file=sys.stderr)
    print(f"licensed ({status.source}): {status.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
