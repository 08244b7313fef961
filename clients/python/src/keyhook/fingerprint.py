"""A stable device id for `deviceId`, from the machine's own id:
Linux `/etc/machine-id` (or `/var/lib/dbus/machine-id`), macOS `IOPlatformUUID`, Windows
`MachineGuid`.

Privacy: the machine id never leaves the machine. `device_id` sends
hex(SHA-256("keyhook-fingerprint-v1" || 0x00 || productId || 0x00 || machineId)), so two
vendors (or two products) see unrelated ids; answers carry only a further hash of it. A
reinstalled OS is a new device: deactivate the old one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

from .errors import FingerprintError


def device_id_from(product_id: str, machine_id: str) -> str:
    """The deviceId for a given machine id (64 hex digits; the same in every Keyhook client)."""
    data = (b"keyhook-fingerprint-v1\x00" + product_id.encode() + b"\x00"
            + machine_id.encode())
    return hashlib.sha256(data).hexdigest()


def machine_id() -> str:
    """The machine's own id, as the OS gives it."""
    text = _read_machine_id().strip()
    if not text:
        raise FingerprintError("the machine id is empty")
    return text


def device_id(product_id: str) -> str:
    """The deviceId of this machine for `product_id`."""
    return device_id_from(product_id, machine_id())


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True,
                              timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise FingerprintError(f"{args[0]}: {e}") from e


def _read_machine_id() -> str:
    if sys.platform.startswith("linux"):
        for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read()
            except OSError:
                continue
        raise FingerprintError("no /etc/machine-id")
    if sys.platform == "darwin":
        for line in _run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"]).splitlines():
            if "IOPlatformUUID" in line and line.count('"') >= 4:
                return line.split('"')[3]
        raise FingerprintError("no IOPlatformUUID")
    if sys.platform == "win32":
        out = _run(["reg", "query", r"HKLM\SOFTWARE\Microsoft\Cryptography", "/v", "MachineGuid"])
        for line in out.splitlines():
            if "MachineGuid" in line:
                return line.split()[-1]
        raise FingerprintError("no MachineGuid")
    raise FingerprintError("no machine id on this platform; pass your own deviceId")
