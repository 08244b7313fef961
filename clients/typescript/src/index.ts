/**
 * Keyhook licensing for Node and Electron apps: validate license keys, activate and deactivate
 * devices, start trials, hold floating seats (leases), record metered usage, and check out signed
 * license files that keep the app working offline.
 * Every answer is verified before you see it (Ed25519 signature against your tenant's published
 * keys, product, device, license, a fresh nonce, freshness, the build's mode); offline, a kept
 * license file or the last good answer carries the app through the grace period you choose, and a
 * clock set back is refused (the clock mark). See README.md and docs/integrate.md.
 *
 * The offline verifier underneath (the former `@keyhook/verify`) is exported too.
 */
export * from "./verify";
export * from "./errors";
export { Cache, slot } from "./cache";
export type { KeptAnswer } from "./cache";
export { Client, Lease, Status, newNonce, typedError, VERSION } from "./client";
export type { ClientOptions, LeaseInfo, SeatState, Source, Usage } from "./client";
export { deviceId, deviceIdFrom, machineId } from "./fingerprint";
