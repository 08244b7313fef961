/**
 * Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
 * (keyhook-license-file-v1), and the clock mark (keyhook-clock-mark-v1) that stops a clock set
 * back from stretching them, with Node's built-in crypto (Ed25519, HKDF-SHA256, HMAC-SHA256,
 * AES-256-GCM). No runtime dependency.
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
 *
 * Every refusal is a `VerifyError` whose `kind` is the result named by the shared test vectors
 * (clients/test-vectors): anything that does not parse as what it claims to be is `malformed`.
 * The `Client` (./client) is built on these functions; this file imports nothing else of the
 * package, so it can still be copied into an app on its own.
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

/**
 * Unicode White_Space: what every Keyhook client skips in a key and trims off an imported one
 * (JavaScript's \s and trim() also take U+FEFF, a byte-order mark; Rust and Python do not).
 */
const WHITE_SPACE = new Set(
  "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);
const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The build: "live" refuses test licenses' files and valid answers about test licenses. */
export type Environment = "live" | "test";

/**
 * Not trusted; `kind` is one of the vector results (wrong_product, stale, retired_key,
 * lifetime_too_long, test_license, clock_rollback, …).
 */
export class VerifyError extends Error {
  constructor(
    public readonly kind: string,
    public readonly detail = "",
  ) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.name = "VerifyError";
  }
}

/**
 * Milliseconds since the epoch of an RFC 3339 timestamp (what Keyhook signs); `malformed` for
 * anything else (Date.parse would take a date alone, or a time without offset as local time).
 */
export function parseTime(s: unknown, field = "time"): number {
  const m = typeof s === "string" ? RFC3339.exec(s) : null;
  if (m) {
    const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
    const ms = m[7] ? Number(m[7].slice(1, 4).padEnd(3, "0")) : 0;
    const utc = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
    const check = new Date(utc);
    // Date.UTC rolls over (February 30th is March 2nd): a real date reads back the same.
    if (
      check.getUTCFullYear() === y && check.getUTCMonth() === mo - 1 && check.getUTCDate() === d &&
      check.getUTCHours() === h && check.getUTCMinutes() === mi && check.getUTCSeconds() === sec
    ) {
      const zone = m[8];
      const offset = zone === "Z" || zone === "z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
      if (Math.abs(offset) < 24 * 60) return utc - offset * MINUTE;
    }
  }
  throw new VerifyError("malformed", `${field} is not an RFC 3339 timestamp`);
}

/** RFC 3339 UTC with milliseconds, as Keyhook writes times. */
export function formatTime(t: Date | number): string {
  return new Date(t).toISOString();
}

/** Standard, padded base64, nothing else (Buffer.from would skip what it cannot read). */
function b64decode(text: unknown, what: string): Buffer {
  if (typeof text !== "string" || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new VerifyError("malformed", `${what}: bad base64`);
  }
  return Buffer.from(text, "base64");
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VerifyError("malformed", `${what}: ${(e as Error).message}`);
  }
}

// The shapes of what is signed: a member of the wrong type is `malformed`, as in the Rust
// client, whose types are checked by its JSON reader. `?` marks a member that may be absent or
// null; "u32" a whole number from 0 to 2^32 - 1.
type Shape = Record<string, string>;
const ANSWER_LICENSE_SHAPE: Shape = { id: "str", productId: "str", status: "str", expiresAt: "str?", maxDevices: "u32", activeDevices: "u32" };
const TRIAL_SHAPE: Shape = { productId: "str", deviceHash: "str", startedAt: "str", expiresAt: "str" };
const FILE_LICENSE_SHAPE: Shape = { status: "str", expiresAt: "str?", maxDevices: "u32", maxIps: "u32" };
const LEASE_SHAPE: Shape = { id: "str", expiresAt: "str", heartbeatSeconds: "u32", borrowedUntil: "str?" };
const SEATS_SHAPE: Shape = { inUse: "u32", maxConcurrent: "u32" };
// Usage limits: the meter a usage answer recorded on (counts up to 10^12).
const USAGE_SHAPE: Shape = { meter: "str", period: "str", used: "u53", limit: "u53", remaining: "u53", resetsAt: "str?" };
const NESTED: Record<string, Shape> = {
  license: ANSWER_LICENSE_SHAPE, trial: TRIAL_SHAPE, fileLicense: FILE_LICENSE_SHAPE, lease: LEASE_SHAPE, seats: SEATS_SHAPE,
  usage: USAGE_SHAPE,
};
const ANSWER_SHAPE: Shape = {
  format: "str", valid: "bool", code: "str", detail: "str", livemode: "bool", productId: "str", deviceHash: "str?",
  licenseId: "str?", license: "license?", trial: "trial?", nonce: "str?", signedAt: "str", kid: "str", manageUrl: "str?",
  lease: "lease?", seats: "seats?", usage: "usage?", meters: "usages?",
};
const PAYLOAD_SHAPE: Shape = {
  format: "str", kid: "str", tenantId: "str", licenseId: "str", productId: "str", deviceHash: "str", livemode: "bool",
  license: "fileLicense", entitlements: "strs", issuedAt: "str", expiresAt: "str",
};
const ENVELOPE_SHAPE: Shape = { format: "str", alg: "str", kid: "str", enc: "str", payload: "str", signature: "str" };
const KEY_SHAPE: Shape = { kid: "str", alg: "str", publicKey: "str", retiredAt: "str?" };

function hasType(value: unknown, kind: string): boolean {
  switch (kind) {
    case "str":
      return typeof value === "string";
    case "bool":
      return typeof value === "boolean";
    case "u32":
      return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 2 ** 32;
    case "usages":
      return Array.isArray(value) && value.every((v) => hasType(v, "usage"));
    case "u53":
      return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
    case "strs":
      return Array.isArray(value) && value.every((v) => typeof v === "string");
    default:
      return shapeProblem(value, NESTED[kind]) === null;
  }
}

function shapeProblem(obj: unknown, shape: Shape): string | null {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return "not an object";
  for (const [name, kind] of Object.entries(shape)) {
    const value = (obj as Record<string, unknown>)[name];
    const optional = kind.endsWith("?");
    if (optional && (value === undefined || value === null)) continue;
    if (!hasType(value, kind.replace("?", ""))) return `${name} is missing or not a ${kind.replace("?", "")}`;
  }
  return null;
}

function checkShape<T>(obj: unknown, shape: Shape, what: string): T {
  const problem = shapeProblem(obj, shape);
  if (problem !== null) throw new VerifyError("malformed", `${what}: ${problem}`);
  return obj as T;
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

/**
 * The canonical form of a Keyhook key (25 uppercase Crockford symbols), or null for text that is
 * not one. Lenient: case, hyphens and white space, I/L -> 1, O -> 0 (ASCII only).
 */
export function canonicalKey(text: string): string | null {
  let out = "";
  for (const ch of text) {
    if (ch === "-" || WHITE_SPACE.has(ch)) continue;
    if (!/^[0-9A-Za-z]$/.test(ch)) return null;
    let c = ch.toUpperCase();
    c = c === "I" || c === "L" ? "1" : c === "O" ? "0" : c;
    if (c === "U") return null;
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

function trimWhiteSpace(text: string): string {
  const chars = [...text];
  let start = 0;
  let end = chars.length;
  while (start < end && WHITE_SPACE.has(chars[start])) start++;
  while (end > start && WHITE_SPACE.has(chars[end - 1])) end--;
  return chars.slice(start, end).join("");
}

/**
 * What the file and mark keys derive from: the canonical Keyhook key, else the key trimmed;
 * empty without a key (a trial).
 */
export function secretBytes(licenseKey: string | null): Buffer {
  if (licenseKey === null) return Buffer.alloc(0);
  return Buffer.from(canonicalKey(licenseKey) ?? trimWhiteSpace(licenseKey));
}

export class KeySet {
  private keys = new Map<string, KeyObject>();
  private retired = new Map<string, number>();

  /**
   * The set from the body of GET /api/tenants/{tenantId}/signing-keys. Each key's kid must be
   * the one its public key derives (a mislabelled key is refused); other algorithms are skipped.
   */
  static fromJson(text: string | Buffer): KeySet {
    const published = parseJson(text.toString(), "key set") as { keys?: unknown };
    if (typeof published !== "object" || published === null || !Array.isArray(published.keys)) {
      throw new VerifyError("malformed", "key set: no keys");
    }
    const set = new KeySet();
    for (const entry of published.keys) {
      const k = checkShape<Record<string, string>>(entry, KEY_SHAPE, "key set");
      if (k.alg !== "Ed25519") continue;
      let raw: Buffer;
      let key: KeyObject;
      try {
        raw = b64decode(k.publicKey.trim(), "publicKey");
        if (raw.length !== 32) throw new Error("not 32 bytes");
        key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
      } catch {
        throw new VerifyError("bad_public_key", k.kid);
      }
      if (keyId(raw) !== k.kid) throw new VerifyError("malformed", `key set: kid ${k.kid} does not match its key`);
      set.keys.set(k.kid, key);
      if (k.retiredAt !== undefined && k.retiredAt !== null) {
        set.retired.set(k.kid, parseTime(k.retiredAt, "key set: retiredAt"));
      }
    }
    return set;
  }

  get size(): number {
    return this.keys.size;
  }

  kids(): string[] {
    return [...this.keys.keys()];
  }

  /** Refuses a signature the key made after its retirement (beyond the tolerance). */
  checkSignedInService(kid: string, signedAt: string): void {
    const retired = this.retired.get(kid);
    if (retired !== undefined && parseTime(signedAt, "signedAt") > retired + RETIREMENT_TOLERANCE_MS) {
      throw new VerifyError("retired_key", `${kid} signed at ${signedAt}, retired before`);
    }
  }

  verify(kid: string, message: Buffer, signatureB64: string): void {
    const key = this.keys.get(kid);
    if (!key) throw new VerifyError("unknown_key", kid);
    let sig: Buffer;
    try {
      sig = b64decode(signatureB64, "signature");
    } catch {
      throw new VerifyError("bad_signature");
    }
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

/**
 * The signed message (the body cut at its last `,"signature":"`, closed with `}`) and the base64
 * signature.
 */
export function signedParts(body: Buffer): { message: Buffer; signature: string } {
  const i = body.lastIndexOf(MARK);
  if (i < 0) {
    if (body.toString("latin1").endsWith('"signature":null}')) throw new VerifyError("unsigned");
    throw new VerifyError("malformed", "no signature member");
  }
  if (!body.toString("latin1").endsWith('"}')) throw new VerifyError("bad_signature");
  const signature = body.subarray(i + MARK.length, body.length - 2).toString("latin1");
  return { message: Buffer.concat([body.subarray(0, i), Buffer.from("}")]), signature };
}

/** The answer, if signed by `keys` and answering exactly this request; throws VerifyError. */
export function verifyAnswer(keys: KeySet, body: Buffer, expected: Expected): Answer {
  const { message, signature } = signedParts(body);
  const header = parseJson(message.toString(), "answer") as Answer;
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new VerifyError("malformed", "answer: not an object");
  if (header.format !== undefined && header.format !== null && typeof header.format !== "string") {
    throw new VerifyError("malformed", "answer: format is not a str");
  }
  if (header.format !== ANSWER_FORMAT) throw new VerifyError("unsupported_format", header.format ?? "keyhook-answer-v1");
  if (typeof header.kid !== "string") throw new VerifyError("malformed", "answer without kid");
  keys.verify(header.kid, message, signature);
  const a = checkShape<Answer>(header, ANSWER_SHAPE, "answer");
  keys.checkSignedInService(a.kid, a.signedAt);
  const { productId, deviceId, nonce, licenseKey } = expected;
  if (a.productId !== productId) throw new VerifyError("wrong_product", a.productId);
  const mine = deviceId === null ? null : deviceHash(productId, deviceId);
  if ((a.deviceHash ?? null) !== mine) throw new VerifyError("wrong_device");
  if ((a.nonce ?? null) !== nonce) throw new VerifyError("wrong_nonce");
  const trial = a.trial;
  const lic = a.license;
  if (trial) {
    if (trial.productId !== productId) throw new VerifyError("wrong_product", trial.productId);
    if (trial.deviceHash !== mine) throw new VerifyError("wrong_device");
  }
  const found = a.licenseId ?? null;
  if (lic) {
    if (lic.productId !== productId) throw new VerifyError("wrong_product", lic.productId);
    if (lic.id !== found) throw new VerifyError("wrong_license");
  }
  if (licenseKey === null) {
    if (found !== null || lic || (a.valid && !trial)) throw new VerifyError("wrong_license");
  } else {
    if (trial) throw new VerifyError("wrong_license");
    const want = licenseId(licenseKey);
    if (found !== null && want !== null && found !== want) throw new VerifyError("wrong_license");
    if (found === null && a.valid) throw new VerifyError("wrong_license");
  }
  // A refusal grants nothing, so it is returned whatever its mode.
  if (a.valid) checkEnvironment(a.livemode, expected.environment, expected.acceptTestLicenses);
  return a;
}

/** That the answer was signed at most `maxAgeMs` before `now` and not more than `skewMs` after it. */
export function checkFresh(answer: Answer, now: Date, maxAgeMs = 5 * MINUTE, skewMs = 5 * MINUTE): void {
  const at = parseTime(answer.signedAt, "signedAt");
  if (at > now.getTime() + skewMs) throw new VerifyError("not_yet_valid", answer.signedAt);
  if (at + maxAgeMs < now.getTime()) throw new VerifyError("stale", answer.signedAt);
}

/** Whose clock mark: one (product, license key, device); `licenseKey: null` for a trial. */
export interface MarkSlot {
  productId: string;
  deviceId: string;
  licenseKey: string | null;
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
    try {
      return new Date(parseTime(highWater, "highWater"));
    } catch {
      // an unreadable time is an altered mark
    }
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

/** A temporary file, then a rename: a crash never leaves half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Keeps the clock mark of one (product, license key, device) in a file. */
export class ClockGuard {
  constructor(
    private readonly path: string,
    private readonly slot: MarkSlot,
    private readonly toleranceMs = 5 * MINUTE,
  ) {}

  private write(text: string): void {
    writeAtomically(this.path, text);
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
  const env = checkShape<Record<string, string>>(
    parseJson(b64decode(inner, "license file").toString(), "license file"),
    ENVELOPE_SHAPE,
    "license file",
  );
  if (env.format !== FILE_FORMAT) throw new VerifyError("unsupported_format", env.format);
  if (env.alg !== "Ed25519") throw new VerifyError("malformed", "algorithm " + env.alg);
  keys.verify(env.kid, Buffer.from(`${FILE_FORMAT}.${env.enc}.${env.kid}.${env.payload}`), env.signature);
  const raw = b64decode(env.payload, "license file payload");
  let plain: Buffer;
  if (env.enc === "none") {
    plain = raw;
  } else if (env.enc === "aes-256-gcm") {
    if (licenseKey === null) throw new VerifyError("key_required");
    if (raw.length < 12 + 16) throw new VerifyError("decrypt");
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
  const payload = checkShape<Answer>(parseJson(plain.toString(), "license file payload"), PAYLOAD_SHAPE, "license file payload");
  if (payload.format !== FILE_FORMAT) throw new VerifyError("unsupported_format", payload.format);
  if (payload.kid !== env.kid) throw new VerifyError("malformed", "payload and envelope name different keys");
  keys.checkSignedInService(payload.kid, payload.issuedAt);
  if (parseTime(payload.expiresAt, "expiresAt") - parseTime(payload.issuedAt, "issuedAt") > MAX_FILE_LIFETIME_MS) {
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
  if (parseTime(payload.issuedAt, "issuedAt") > now + skew) throw new VerifyError("not_yet_valid", payload.issuedAt);
  if (parseTime(payload.expiresAt, "expiresAt") <= now) throw new VerifyError("expired", payload.expiresAt);
  const ends = payload.license.expiresAt;
  if (ends !== undefined && ends !== null && parseTime(ends, "license.expiresAt") <= now) throw new VerifyError("expired", ends);
  checkEnvironment(payload.livemode, opts.environment, opts.acceptTestLicenses);
}
