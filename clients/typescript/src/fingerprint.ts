/**
 * A stable device id for `deviceId`, from the machine's own id: Linux `/etc/machine-id` (or
 * `/var/lib/dbus/machine-id`), macOS `IOPlatformUUID`, Windows `MachineGuid`.
 *
 * Privacy: the machine id never leaves the machine. `deviceId` sends
 * hex(SHA-256("keyhook-fingerprint-v1" || 0x00 || productId || 0x00 || machineId)), so two
 * vendors (or two products) see unrelated ids; answers carry only a further hash of it. A
 * reinstalled OS is a new device: deactivate the old one.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { FingerprintError } from "./errors";

/** The deviceId for a given machine id (64 hex digits; the same in every Keyhook client). */
export function deviceIdFrom(productId: string, machineId: string): string {
  return createHash("sha256").update("keyhook-fingerprint-v1\0").update(productId).update("\0").update(machineId).digest("hex");
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", timeout: 10_000, windowsHide: true });
  } catch (e) {
    throw new FingerprintError(`${command}: ${(e as Error).message}`, { cause: e });
  }
}

function readMachineId(): string {
  switch (process.platform) {
    case "linux":
      for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
        try {
          return readFileSync(path, "utf8");
        } catch {
          // the next one
        }
      }
      throw new FingerprintError("no /etc/machine-id");
    case "darwin": {
      const line = run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"])
        .split("\n")
        .find((l) => l.includes("IOPlatformUUID"));
      const uuid = line?.split('"')[3];
      if (!uuid) throw new FingerprintError("no IOPlatformUUID");
      return uuid;
    }
    case "win32": {
      const line = run("reg", ["query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid"])
        .split(/\r?\n/)
        .find((l) => l.includes("MachineGuid"));
      const guid = line?.trim().split(/\s+/).pop();
      if (!guid) throw new FingerprintError("no MachineGuid");
      return guid;
    }
    default:
      throw new FingerprintError("no machine id on this platform; pass your own deviceId");
  }
}

/** The machine's own id, as the OS gives it. */
export function machineId(): string {
  const id = readMachineId().trim();
  if (!id) throw new FingerprintError("the machine id is empty");
  return id;
}

/** The deviceId of this machine for `productId`. */
export function deviceId(productId: string): string {
  return deviceIdFrom(productId, machineId());
}
