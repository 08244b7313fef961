/**
 * Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
 * (keyhook-license-file-v1), and the clock mark (keyhook-clock-mark-v1) that stops a clock set
 * back from stretching them, with Node's built-in crypto (Ed25519, HKDF-SHA256, HMAC-SHA256,
 * AES-256-GCM). No runtime dependency: copy this file into your app.
 *
 *   const keys = KeySet.fromJson(signingKeysJson);   // GET /api/tenants/{id}/signing-keys
 *   const answer = verifyAnswer(keys, rawBody, { productId, deviceId, nonce, licenseKey });
 *   checkFresh(answer, new Date());                    // online: the clock is right
 *   const guard = new ClockGuard(join(appDir, "mark.json"), { productId, deviceId, licenseKey });
 *   guard.confirm(new Date());                         // after a fresh online answer
 *   // offline:
 *   guard.check(new Date(), { hasProof: true });       // clock_rollback if set back
 *   const payload = verifyFile(keys, fileText, licenseKey);
 *   checkFile(payload, { productId, deviceId, now: new Date() });
 *
 * `environment: "test"` (verifyAnswer, checkFile) for test builds: a live build refuses a test
 * license's file and valid answers about test licenses.
 */
import {
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  hkdfSync,
  KeyObject,
  timingSafeEqual,
  verify,
} from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export const ANSWER_FORMAT = "keyhook-answer-v2";
export const FILE_FORMAT = "keyhook-license-file-v1";
export const MARK_FORMAT = "keyhook-clock-mark-v1";
export const BEGIN = "-----BEGIN KEYHOOK LICENSE FILE-----";
export const END = "-----END KEYHOOK LICENSE FILE-----";
const MARK = Buffer.from(',"signature":"');
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const MINUTE = 60_000;
/** A retired key's signatures are trusted up to this long after its retiredAt. */
export const RETIREMENT_TOLERANCE_MS = 10 * MINUTE;
/** The longest life of a license file (expiresAt - issuedAt). */
export const MAX_FILE_LIFETIME_MS = 366 * 24 * 60 * MINUTE;

/** The build: "live" refuses test licenses' files and valid answers about test licenses. */
export type Environment = "live" | "test";

/**
 * Not trusted; `kind` is one of the vector results (wrong_product, stale, retired_key,
 * lifetime_too_long, test_license, clock_rollback, …).
 */
export class VerifyError extends Error {
  constructor(public readonly kind: string, detail = "") {
    super(detail ? `${kind}: ${detail}` : kind);
  }
}

/** hex(SHA-256("keyhook-device-v1" || 0 || productId || 0 || deviceId)). */
export function deviceHash(productId: string, deviceId: string): string {
  return createHash("sha256")
    .update("keyhook-device-v1\0")
    .update(productId)
    .update("\0")
    .update(deviceId)
    .digest("hex");
}

export function canonicalKey(text: string): string | null {
  let out = "";
  for (const ch of text) {
    if (ch === "-" || /\s/.test(ch)) continue;
    let c = ch.toUpperCase();
    c = c === "I" || c === "L" ? "1" : c === "O" ? "0" : c;
    if (!/^[0-9A-Z]$/.test(c) || c === "U") return null;
    out += c;
  }
  return out.length === 25 ? out : null;
}

/** The license id of a Keyhook key (lic_ + Crockford base32 of SHA-256(key)[:16]). */
export function licenseId(key: string): string | null {
  const canon = canonicalKey(key);
  if (canon === null) return null;
  const digest = createHash("sha256").update(canon).digest().subarray(0, 16);
  let bits = BigInt("0x" + digest.toString("hex")) << 2n;
  let out = "";
  for (let i = 25; i >= 0; i--) out += CROCKFORD[Number((bits >> BigInt(5 * i)) & 31n)];
  return "lic_" + out.toLowerCase();
}

export function keyId(publicKey: Buffer): string {
  return createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
}

/** The canonical Keyhook key, else the key trimmed; empty without a key (a trial). */
function secretBytes(licenseKey: string | null): Buffer {
  if (licenseKey === null) return Buffer.alloc(0);
  return Buffer.from(canonicalKey(licenseKey) ?? licenseKey.trim());
}

export class KeySet {
  private keys = new Map<string, KeyObject>();
  private retired = new Map<string, number>();

  static fromJson(text: string): KeySet {
    const set = new KeySet();
    for (const k of JSON.parse(text).keys as Array<Record<string, string>>) {
      if (k.alg !== "Ed25519") continue;
      const raw = Buffer.from(k.publicKey, "base64");
      if (keyId(raw) !== k.kid) throw new VerifyError("malformed", `kid ${k.kid} does not match its key`);
      set.keys.set(k.kid, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" }));
      if (k.retiredAt !== undefined && k.retiredAt !== null) {
        const at = Date.parse(k.retiredAt);
        if (Number.isNaN(at)) throw new VerifyError("malformed", `retiredAt of ${k.kid}`);
        set.retired.set(k.kid, at);
      }
    }
    return set;
  }

  /** Refuses a signature the key made after its retirement (beyond the tolerance). */
  checkSignedInService(kid: string, signedAt: string): void {
    const retired = this.retired.get(kid);
    if (retired !== undefined && Date.parse(signedAt) > retired + RETIREMENT_TOLERANCE_MS) {
      throw new VerifyError("retired_key", `${kid} signed at ${signedAt}, retired before`);
    }
  }

  verify(kid: string, message: Buffer, signatureB64: string): void {
    const key = this.keys.get(kid);
    if (!key) throw new VerifyError("unknown_key", kid);
    const sig = Buffer.from(signatureB64, "base64");
    if (sig.length !== 64 || !verify(null, message, key, sig)) throw new VerifyError("bad_signature");
  }
}

export interface Expected {
  productId: string;
  deviceId: string | null;
  nonce: string | null;
  licenseKey: string | null;
  /** The build (default "live"). */
  environment?: Environment;
  /** A live build that trusts test licenses too (the product's acceptTestLicenses). */
  acceptTestLicenses?: boolean;
}

function checkEnvironment(livemode: boolean, environment: Environment = "live", acceptTestLicenses = false): void {
  if (environment !== "live" && environment !== "test") throw new Error(`environment is "live" or "test", not ${environment}`);
  if (!livemode && environment === "live" && !acceptTestLicenses) {
    throw new VerifyError("test_license", "a test license in a live build");
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answer = Record<string, any>;

/** The answer, if signed by `keys` and answering exactly this request; throws VerifyError. */
export function verifyAnswer(keys: KeySet, body: Buffer, expected: Expected): Answer {
  const i = body.lastIndexOf(MARK);
  if (i < 0) {
    throw new VerifyError(body.toString().endsWith('"signature":null}') ? "unsigned" : "malformed");
  }
  if (!body.toString("latin1").endsWith('"}')) throw new VerifyError("bad_signature");
  const signature = body.subarray(i + MARK.length, body.length - 2).toString();
  const message = Buffer.concat([body.subarray(0, i), Buffer.from("}")]);
  const a: Answer = JSON.parse(message.toString());
  if (a.format !== ANSWER_FORMAT) throw new VerifyError("unsupported_format", a.format ?? "keyhook-answer-v1");
  keys.verify(a.kid, message, signature);
  keys.checkSignedInService(a.kid, a.signedAt);
  const { productId, deviceId, nonce, licenseKey } = expected;
  if (a.productId !== productId) throw new VerifyError("wrong_product", a.productId);
  const mine = deviceId === null ? undefined : deviceHash(productId, deviceId);
  if (a.deviceHash !== mine) throw new VerifyError("wrong_device");
  if ((a.nonce ?? null) !== nonce) throw new VerifyError("wrong_nonce");
  const trial = a.trial;
  const lic = a.license;
  if (trial) {
    if (trial.productId !== productId) throw new VerifyError("wrong_product", trial.productId);
    if (trial.deviceHash !== mine) throw new VerifyError("wrong_device");
  }
  if (lic) {
    if (lic.productId !== productId) throw new VerifyError("wrong_product", lic.productId);
    if (lic.id !== a.licenseId) throw new VerifyError("wrong_license");
  }
  if (licenseKey === null) {
    if (a.licenseId !== undefined || lic || (a.valid && !trial)) throw new VerifyError("wrong_license");
  } else {
    if (trial) throw new VerifyError("wrong_license");
    const want = licenseId(licenseKey);
    if (a.licenseId !== undefined && want !== null && a.licenseId !== want) throw new VerifyError("wrong_license");
    if (a.licenseId === undefined && a.valid) throw new VerifyError("wrong_license");
  }
  // A refusal grants nothing, so it is returned whatever its mode.
  if (a.valid) checkEnvironment(a.livemode, expected.environment, expected.acceptTestLicenses);
  return a;
}

export function checkFresh(answer: Answer, now: Date, maxAgeMs = 5 * MINUTE, skewMs = 5 * MINUTE): void {
  const at = Date.parse(answer.signedAt);
  if (at > now.getTime() + skewMs) throw new VerifyError("not_yet_valid", answer.signedAt);
  if (at + maxAgeMs < now.getTime()) throw new VerifyError("stale", answer.signedAt);
}

/** Whose clock mark: one (product, license key, device); `licenseKey: null` for a trial. */
export interface MarkSlot {
  productId: string;
  deviceId: string;
  licenseKey: string | null;
}

/** RFC 3339 UTC with milliseconds, as Keyhook writes times. */
function formatTime(t: Date): string {
  return t.toISOString();
}

function markMac(highWater: string, slot: MarkSlot): Buffer {
  const key = Buffer.from(hkdfSync("sha256", secretBytes(slot.licenseKey), Buffer.alloc(0), Buffer.from(MARK_FORMAT), 32));
  return createHmac("sha256", key)
    .update([MARK_FORMAT, slot.productId, slot.deviceId, highWater].join("\0"))
    .digest();
}

/** The clock mark to store: the highest local time observed, MAC'd (docs/integrate.md). */
export function sealMark(highWater: Date, slot: MarkSlot): string {
  const hw = formatTime(highWater);
  return JSON.stringify({ format: MARK_FORMAT, highWater: hw, mac: markMac(hw, slot).toString("hex") });
}

/** The high-water time of a stored mark; clock_rollback ("mark altered") unless it verifies. */
export function openMark(text: string, slot: MarkSlot): Date {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    m = null;
  }
  const { format, highWater, mac } = (m ?? {}) as Record<string, unknown>;
  if (
    format === MARK_FORMAT &&
    typeof highWater === "string" &&
    typeof mac === "string" &&
    /^[0-9a-fA-F]{64}$/.test(mac) &&
    timingSafeEqual(Buffer.from(mac, "hex"), markMac(highWater, slot))
  ) {
    const at = Date.parse(highWater);
    if (!Number.isNaN(at)) return new Date(at);
  }
  throw new VerifyError("clock_rollback", "mark altered");
}

/**
 * The clock check before a kept proof is trusted offline. `mark`: the stored mark (null: none);
 * `hasProof`: whether a license file or answer is kept for this slot. Throws clock_rollback
 * (behind the mark beyond the tolerance, mark altered, or missing while a proof is kept); else
 * returns the mark to store, advanced to `now` (never moved back).
 */
export function checkMark(mark: string | null, slot: MarkSlot, opts: { now: Date; hasProof: boolean; toleranceMs?: number }): string {
  if (mark === null) {
    if (opts.hasProof) throw new VerifyError("clock_rollback", "mark missing");
    return sealMark(opts.now, slot);
  }
  const highWater = openMark(mark, slot);
  if (opts.now.getTime() + (opts.toleranceMs ?? 5 * MINUTE) < highWater.getTime()) {
    throw new VerifyError("clock_rollback", "behind " + formatTime(highWater));
  }
  return sealMark(opts.now > highWater ? opts.now : highWater, slot);
}

/** Keeps the clock mark of one (product, license key, device) in a file. */
export class ClockGuard {
  constructor(
    private readonly path: string,
    private readonly slot: MarkSlot,
    private readonly toleranceMs = 5 * MINUTE,
  ) {}

  private write(text: string): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, this.path);
  }

  /** Before trusting a kept file or answer offline: throws clock_rollback, else advances the mark. */
  check(now: Date, opts: { hasProof: boolean }): void {
    let mark: string | null = null;
    try {
      mark = readFileSync(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    this.write(checkMark(mark, this.slot, { now, hasProof: opts.hasProof, toleranceMs: this.toleranceMs }));
  }

  /** After a verified, fresh online answer (its nonce and signedAt prove the clock): restart at now. */
  confirm(now: Date): void {
    this.write(sealMark(now, this.slot));
  }
}

function fileKey(licenseKey: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secretBytes(licenseKey), Buffer.alloc(0), Buffer.from("keyhook-license-file-v1/aes-256-gcm"), 32));
}

/** The payload of a license file signed by `keys` (decrypted with `licenseKey`). */
export function verifyFile(keys: KeySet, text: string, licenseKey: string | null = null): Answer {
  const t = text.trim();
  if (!t.startsWith(BEGIN) || !t.endsWith(END)) throw new VerifyError("malformed", "not a Keyhook license file");
  const inner = t.slice(BEGIN.length, t.length - END.length).replace(/\s+/g, "");
  const env = JSON.parse(Buffer.from(inner, "base64").toString());
  if (env.format !== FILE_FORMAT) throw new VerifyError("unsupported_format", env.format);
  if (env.alg !== "Ed25519") throw new VerifyError("malformed", "algorithm");
  keys.verify(env.kid, Buffer.from(`${FILE_FORMAT}.${env.enc}.${env.kid}.${env.payload}`), env.signature);
  const raw = Buffer.from(env.payload, "base64");
  let plain: Buffer;
  if (env.enc === "none") {
    plain = raw;
  } else if (env.enc === "aes-256-gcm") {
    if (licenseKey === null) throw new VerifyError("key_required");
    try {
      const d = createDecipheriv("aes-256-gcm", fileKey(licenseKey), raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(raw.length - 16));
      plain = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
    } catch {
      throw new VerifyError("decrypt");
    }
  } else {
    throw new VerifyError("malformed", "encryption " + env.enc);
  }
  const payload = JSON.parse(plain.toString());
  if (payload.format !== FILE_FORMAT || payload.kid !== env.kid) throw new VerifyError("malformed", "payload");
  keys.checkSignedInService(payload.kid, payload.issuedAt);
  if (Date.parse(payload.expiresAt) - Date.parse(payload.issuedAt) > MAX_FILE_LIFETIME_MS) {
    throw new VerifyError("lifetime_too_long", `${payload.issuedAt} to ${payload.expiresAt}`);
  }
  return payload;
}

/** That the file is for this product and device, valid at `now`, and of a license this build trusts. */
export function checkFile(
  payload: Answer,
  opts: { productId: string; deviceId: string; now: Date; skewMs?: number; environment?: Environment; acceptTestLicenses?: boolean },
): void {
  const skew = opts.skewMs ?? 5 * MINUTE;
  const now = opts.now.getTime();
  if (payload.productId !== opts.productId) throw new VerifyError("wrong_product", payload.productId);
  if (payload.deviceHash !== deviceHash(opts.productId, opts.deviceId)) throw new VerifyError("wrong_device");
  if (Date.parse(payload.issuedAt) > now + skew) throw new VerifyError("not_yet_valid", payload.issuedAt);
  if (Date.parse(payload.expiresAt) <= now) throw new VerifyError("expired", payload.expiresAt);
  const ends = payload.license.expiresAt;
  if (ends !== null && Date.parse(ends) <= now) throw new VerifyError("expired", ends);
  checkEnvironment(payload.livemode, opts.environment, opts.acceptTestLicenses);
}
