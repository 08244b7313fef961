/**
 * Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
 * (keyhook-license-file-v1) with Node's built-in crypto (Ed25519, HKDF-SHA256, AES-256-GCM).
 * No runtime dependency: copy this file into your app.
 *
 *   const keys = KeySet.fromJson(signingKeysJson);   // GET /api/tenants/{id}/signing-keys
 *   const answer = verifyAnswer(keys, rawBody, { productId, deviceId, nonce, licenseKey });
 *   checkFresh(answer, new Date());
 *   const payload = verifyFile(keys, fileText, licenseKey);
 *   checkFile(payload, { productId, deviceId, now: new Date() });
 */
import { createDecipheriv, createHash, createPublicKey, hkdfSync, KeyObject, verify } from "node:crypto";

export const ANSWER_FORMAT = "keyhook-answer-v2";
export const FILE_FORMAT = "keyhook-license-file-v1";
export const BEGIN = "-----BEGIN KEYHOOK LICENSE FILE-----";
export const END = "-----END KEYHOOK LICENSE FILE-----";
const MARK = Buffer.from(',"signature":"');
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Not trusted; `kind` is one of the vector results (wrong_product, stale, …). */
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

export class KeySet {
  private keys = new Map<string, KeyObject>();

  static fromJson(text: string): KeySet {
    const set = new KeySet();
    for (const k of JSON.parse(text).keys as Array<Record<string, string>>) {
      if (k.alg !== "Ed25519") continue;
      const raw = Buffer.from(k.publicKey, "base64");
      if (keyId(raw) !== k.kid) throw new VerifyError("malformed", `kid ${k.kid} does not match its key`);
      set.keys.set(k.kid, createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" }));
    }
    return set;
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
  return a;
}

const MINUTE = 60_000;

export function checkFresh(answer: Answer, now: Date, maxAgeMs = 5 * MINUTE, skewMs = 5 * MINUTE): void {
  const at = Date.parse(answer.signedAt);
  if (at > now.getTime() + skewMs) throw new VerifyError("not_yet_valid", answer.signedAt);
  if (at + maxAgeMs < now.getTime()) throw new VerifyError("stale", answer.signedAt);
}

/** Refuses a clock set back behind the newest signed time already seen. */
export function checkClock(now: Date, newestSeen: Date | null, skewMs = 5 * MINUTE): void {
  if (newestSeen && now.getTime() + skewMs < newestSeen.getTime()) {
    throw new VerifyError("clock_rollback", newestSeen.toISOString());
  }
}

function fileKey(licenseKey: string): Buffer {
  const ikm = Buffer.from(canonicalKey(licenseKey) ?? licenseKey.trim());
  return Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), Buffer.from("keyhook-license-file-v1/aes-256-gcm"), 32));
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
  return payload;
}

export function checkFile(payload: Answer, opts: { productId: string; deviceId: string; now: Date; skewMs?: number }): void {
  const skew = opts.skewMs ?? 5 * MINUTE;
  const now = opts.now.getTime();
  if (payload.productId !== opts.productId) throw new VerifyError("wrong_product", payload.productId);
  if (payload.deviceHash !== deviceHash(opts.productId, opts.deviceId)) throw new VerifyError("wrong_device");
  if (Date.parse(payload.issuedAt) > now + skew) throw new VerifyError("not_yet_valid", payload.issuedAt);
  if (Date.parse(payload.expiresAt) <= now) throw new VerifyError("expired", payload.expiresAt);
  const ends = payload.license.expiresAt;
  if (ends !== null && Date.parse(ends) <= now) throw new VerifyError("expired", ends);
}
