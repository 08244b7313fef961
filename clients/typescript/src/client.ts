/**
 * The client: online calls with verified answers, and the offline fallback. The same surface and
 * rules as the Rust client (`keyhook-client`), which is the reference. Node 18+ and Electron's
 * main process (global `fetch`, `node:crypto`, `node:fs`); no runtime dependency.
 */
import { randomBytes } from "node:crypto";

import { Cache, slot } from "./cache";
import {
  ConcurrencyLimitError,
  ConfigError,
  GraceExpiredError,
  KeyhookError,
  NetworkError,
  NoOfflineProofError,
  RefusedError,
  RetiredKeyError,
  RollbackError,
  ServerError,
  TestLicenseError,
  UsageLimitError,
  VerificationError,
} from "./errors";
import {
  Answer,
  checkFile,
  checkFresh,
  checkMark,
  Environment,
  KeySet,
  MarkSlot,
  parseTime,
  sealMark,
  verifyAnswer as verifySignedAnswer,
  verifyFile as verifySignedFile,
  VerifyError,
} from "./verify";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
export const VERSION = "0.1.0";

/** Where a Status comes from. */
export type Source = "online" | "cached_answer" | "license_file";

/** What the merchant decides: where Keyhook is, which product, which keys to trust, how long the app may run offline. */
export interface ClientOptions {
  /** Keyhook's base URL (https://…). */
  baseUrl: string;
  /** The product this app is. */
  productId: string;
  /** The tenant's public keys: the body of GET /api/tenants/{tenantId}/signing-keys, embedded. */
  keys: string | Buffer | KeySet;
  /** "live" (default) refuses licenses from Stripe test-mode payments; "test" accepts them. */
  environment?: Environment;
  /** A live build that also trusts test licenses (products with acceptTestLicenses: true). */
  acceptTestLicenses?: boolean;
  /** Oldest online answer accepted (default 5 minutes). */
  maxAnswerAgeMs?: number;
  /**
   * Tolerated clock difference with Keyhook (default 5 minutes), and how far behind the clock
   * mark the clock may be before it counts as set back (jitter, NTP corrections).
   */
  clockSkewMs?: number;
  /** How long after the last good online answer the app keeps working offline on it (default 7 days). License files have their own expiry. */
  graceMs?: number;
  /** Where the last good answer, license file and clock mark are kept (null: in memory only). One directory per product. */
  cacheDir?: string | null;
  /** Timeout of one HTTP request (default 10 s). */
  timeoutMs?: number;
  /** The clock (tests set it; apps keep the system clock). */
  clock?: () => Date;
  /** The HTTP client (default: the global fetch; in Electron's main process `net.fetch` uses Chromium's proxy settings). */
  fetch?: typeof fetch;
}

/** A verified standing. `valid` is true only for VALID and TRIAL. */
export class Status {
  constructor(
    readonly valid: boolean,
    /** The answer's code (VALID, TRIAL, EXPIRED, NOT_ACTIVATED, …; VALID for a license file). */
    readonly code: string,
    readonly detail: string,
    /** False for licenses from Stripe test-mode payments. */
    readonly livemode: boolean,
    /** online (a fresh answer), cached_answer (the last good answer, within the grace period) or license_file. */
    readonly source: Source,
    /** The verified answer (online and cached answers): signedAt, license, trial, … */
    readonly answer: Answer | null = null,
    /** The verified license file's payload: entitlements, expiresAt, license limits. */
    readonly file: Answer | null = null,
  ) {}

  /** With DEVICE_LIMIT_REACHED: where the buyer frees a device (the license's page in the merchant's customer portal). */
  get manageUrl(): string | null {
    return (this.answer?.manageUrl as string | undefined) ?? null;
  }

  get offline(): boolean {
    return this.source !== "online";
  }

  /** Whether the license grants `entitlement` (known from a license file). */
  has(entitlement: string): boolean {
    return this.file !== null && (this.file.entitlements as string[]).includes(entitlement);
  }

  static ofAnswer(a: Answer, source: Source): Status {
    return new Status(a.valid, a.code, a.detail, a.livemode, source, a, null);
  }

  static ofFile(p: Answer): Status {
    return new Status(true, "VALID", "The license file is valid.", p.livemode, "license_file", null, p);
  }
}

/** The client's error for a verifier's refusal. */
export function typedError(e: VerifyError): KeyhookError {
  if (e.kind === "clock_rollback") {
    if (e.detail.startsWith("behind ")) return new RollbackError("behind", e.detail.slice("behind ".length));
    return new RollbackError(e.detail === "mark missing" ? "mark_missing" : "mark_altered");
  }
  if (e.kind === "test_license") return new TestLicenseError(e.detail);
  if (e.kind === "retired_key") return new RetiredKeyError(e.detail);
  return new VerificationError(e.kind, e.detail);
}

function typed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyError) throw typedError(e);
    throw e;
  }
}

/** A fresh random nonce (128 bits, hex). */
export function newNonce(): string {
  return randomBytes(16).toString("hex");
}

function describe(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError") return "timed out";
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}

/** A Keyhook client for one product. */
export class Client {
  readonly productId: string;
  readonly keys: KeySet;
  readonly environment: Environment;
  readonly acceptTestLicenses: boolean;
  readonly maxAnswerAgeMs: number;
  readonly clockSkewMs: number;
  readonly graceMs: number;
  readonly timeoutMs: number;
  readonly cache: Cache;
  private readonly baseUrl: string;
  private readonly clock: () => Date;
  private readonly fetchFn: typeof fetch;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    if (!/^https?:\/\//.test(this.baseUrl)) throw new ConfigError(`the base URL is https://…, not ${JSON.stringify(options.baseUrl)}`);
    this.productId = options.productId;
    this.keys = options.keys instanceof KeySet ? options.keys : typed(() => KeySet.fromJson(options.keys as string | Buffer));
    if (this.keys.size === 0) throw new ConfigError("the key set has no Ed25519 key");
    this.environment = options.environment ?? "live";
    if (this.environment !== "live" && this.environment !== "test") {
      throw new ConfigError(`environment is "live" or "test", not ${JSON.stringify(this.environment)}`);
    }
    this.acceptTestLicenses = options.acceptTestLicenses ?? false;
    this.maxAnswerAgeMs = options.maxAnswerAgeMs ?? 5 * MINUTE;
    this.clockSkewMs = options.clockSkewMs ?? 5 * MINUTE;
    this.graceMs = options.graceMs ?? 7 * DAY;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? (() => new Date());
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== "function") throw new ConfigError("no fetch: Node 18 or later, or pass options.fetch");
    this.fetchFn = fetchFn;
    this.cache = new Cache(options.cacheDir ?? null);
  }

  /** Whether this build trusts test licenses (a test build, or acceptTestLicenses). */
  get acceptsTestLicenses(): boolean {
    return this.environment === "test" || this.acceptTestLicenses;
  }

  // --- the clock ------------------------------------------------------------------------

  /** @internal The client's clock. */
  now(): Date {
    return this.clock();
  }

  private markSlot(key: string | null, deviceId: string): MarkSlot {
    return { productId: this.productId, licenseKey: key, deviceId };
  }

  private slot(key: string | null, deviceId: string): string {
    return slot(this.productId, key, deviceId);
  }

  /**
   * The clock check before anything kept is trusted offline: the slot's clock mark must verify
   * and the clock must not be behind it (beyond clockSkewMs); a missing mark is refused when a
   * proof is kept (else this is the slot's first use). Advances the mark to now; returns now.
   */
  private observeClock(key: string | null, deviceId: string): Date {
    const now = this.clock();
    const s = this.slot(key, deviceId);
    const after = typed(() =>
      checkMark(this.cache.mark(s), this.markSlot(key, deviceId), { now, hasProof: this.cache.hasProof(s), toleranceMs: this.clockSkewMs }),
    );
    this.cache.putMark(s, after);
    return now;
  }

  /** After a verified fresh answer (its nonce and signedAt prove the clock right): the slot's mark restarts at now. */
  private clockConfirmed(key: string | null, deviceId: string, now: Date): void {
    this.cache.putMark(this.slot(key, deviceId), sealMark(now, this.markSlot(key, deviceId)));
  }

  // --- HTTP -----------------------------------------------------------------------------

  private post(path: string, body: Record<string, unknown>): Promise<{ status: number; raw: Buffer }> {
    return this.send("POST", path, body);
  }

  private async send(method: string, path: string, body: Record<string, unknown> | null): Promise<{ status: number; raw: Buffer }> {
    const headers: Record<string, string> = { "user-agent": `keyhook-client-typescript/${VERSION}` };
    if (body !== null) headers["content-type"] = "application/json";
    try {
      const res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: body === null ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { status: res.status, raw: Buffer.from(await res.arrayBuffer()) };
    } catch (e) {
      throw new NetworkError(describe(e), { cause: e });
    }
  }

  private static serverError(status: number, raw: Buffer): ServerError {
    try {
      const error = JSON.parse(raw.toString()).error;
      if (typeof error?.code === "string" && typeof error?.message === "string") return new ServerError(status, error.code, error.message);
    } catch {
      // not JSON
    }
    return new ServerError(status, "unknown", "no message");
  }

  private requestBody(key: string | null, deviceId: string | null, nonce: string): Record<string, unknown> {
    const body: Record<string, unknown> = { productId: this.productId, nonce, environment: this.environment };
    if (key !== null) body.licenseKey = key;
    if (deviceId !== null) body.deviceId = deviceId;
    return body;
  }

  // --- answers --------------------------------------------------------------------------

  /**
   * Verifies an answer to the request (key, deviceId, nonce): signature (by a key of the set, not
   * retired before signedAt), format, product, device, license, nonce, the build's mode, then
   * freshness; a fresh answer proves the clock, so the slot's clock mark restarts at now. For
   * apps that send requests through their own HTTP stack (with newNonce()'s nonce).
   */
  verifyAnswer(body: Buffer | Uint8Array | string, key: string | null, deviceId: string | null, nonce: string): Answer {
    const now = this.clock();
    const raw = Buffer.isBuffer(body) ? body : typeof body === "string" ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const answer = typed(() => {
      const a = verifySignedAnswer(this.keys, raw, {
        productId: this.productId,
        deviceId,
        nonce,
        licenseKey: key,
        environment: this.environment,
        acceptTestLicenses: this.acceptTestLicenses,
      });
      checkFresh(a, now, this.maxAnswerAgeMs, this.clockSkewMs);
      return a;
    });
    this.clockConfirmed(key, deviceId ?? "", now);
    return answer;
  }

  /** One online call of a validation route: the verified answer, its raw body, the nonce sent. */
  private async call(path: string, key: string | null, deviceId: string | null, extra: Record<string, unknown> = {}) {
    const nonce = newNonce();
    const { status, raw } = await this.post(path, { ...this.requestBody(key, deviceId, nonce), ...extra });
    if (status !== 200) throw Client.serverError(status, raw);
    const answer = this.verifyAnswer(raw, key, deviceId, nonce);
    return { answer, raw: raw.toString(), nonce };
  }

  /** Keeps a good answer for offline use, or forgets the proofs of a license Keyhook just called invalid. */
  private remember(s: string, answer: Answer, raw: string, nonce: string): void {
    if (answer.valid) this.cache.putAnswer(s, { body: raw, nonce });
    else this.cache.forget(s);
  }

  /**
   * POST /api/licenses/validate: the key's standing for this product on `deviceId` (key null:
   * the device's trial). When Keyhook cannot be reached (network error or 5xx), falls back to
   * checkOffline (and throws the online error when nothing is kept).
   */
  async validate(key: string | null, deviceId: string): Promise<Status> {
    let result;
    try {
      result = await this.call("/api/licenses/validate", key, deviceId);
    } catch (e) {
      if (e instanceof NetworkError || (e instanceof ServerError && e.status >= 500)) return this.offlineOr(key, deviceId, e);
      throw e;
    }
    this.remember(this.slot(key, deviceId), result.answer, result.raw, result.nonce);
    return Status.ofAnswer(result.answer, "online");
  }

  /** The device's trial of this product (starts it on first use): validate without a key. */
  trial(deviceId: string): Promise<Status> {
    return this.validate(null, deviceId);
  }

  private offlineOr(key: string | null, deviceId: string, online: KeyhookError): Status {
    try {
      return this.checkOffline(key, deviceId);
    } catch (e) {
      if (e instanceof NoOfflineProofError) throw online;
      throw e;
    }
  }

  /** POST /api/licenses/activate. */
  async activate(key: string, deviceId: string, deviceName?: string): Promise<Status> {
    const extra = deviceName === undefined ? {} : { deviceName };
    const { answer, raw, nonce } = await this.call("/api/licenses/activate", key, deviceId, extra);
    this.remember(this.slot(key, deviceId), answer, raw, nonce);
    return Status.ofAnswer(answer, "online");
  }

  /** POST /api/licenses/deactivate (frees the seat; forgets the offline proofs). */
  async deactivate(key: string, deviceId: string): Promise<Status> {
    const { answer } = await this.call("/api/licenses/deactivate", key, deviceId);
    this.cache.forget(this.slot(key, deviceId));
    return Status.ofAnswer(answer, "online");
  }

  // --- floating seats (leases) ----------------------------------------------------------

  /**
   * POST /api/licenses/leases: takes a floating seat for `deviceId` (or gets the device's own
   * lease back, extended) and heartbeats it from an unref()ed timer (it does not keep the process
   * alive). Call `release()` when done. Throws ConcurrencyLimitError when every seat is in use,
   * RefusedError for any other refusal (REVOKED, NOT_FOUND, …).
   */
  async lease(key: string, deviceId: string, deviceName?: string): Promise<Lease> {
    const extra = deviceName === undefined ? {} : { deviceName };
    const { answer } = await this.call("/api/licenses/leases", key, deviceId, extra);
    if (!answer.valid) {
      if (answer.code === "CONCURRENCY_LIMIT_REACHED" && answer.seats) throw new ConcurrencyLimitError(answer.seats.inUse, answer.seats.maxConcurrent);
      throw new RefusedError(answer.code, answer.detail);
    }
    if (!answer.lease) throw new VerificationError("malformed", "a lease answer without its lease");
    return new Lease(this, key, deviceId, answer);
  }

  private leaseBody(deviceId: string, nonce: string): Record<string, unknown> {
    return { productId: this.productId, deviceId, nonce, environment: this.environment };
  }

  /** @internal POST /api/licenses/leases/{id}/heartbeat, verified as an answer about `key`'s license. */
  async heartbeat(key: string, leaseId: string, deviceId: string): Promise<Answer> {
    const nonce = newNonce();
    const { status, raw } = await this.post(`/api/licenses/leases/${encodeURIComponent(leaseId)}/heartbeat`, this.leaseBody(deviceId, nonce));
    if (status !== 200) throw Client.serverError(status, raw);
    return this.verifyAnswer(raw, key, deviceId, nonce);
  }

  /** @internal DELETE /api/licenses/leases/{id}: false when the lease was no longer live. */
  async releaseLease(leaseId: string): Promise<boolean> {
    const { status, raw } = await this.send("DELETE", `/api/licenses/leases/${encodeURIComponent(leaseId)}`, null);
    if (status === 204) return true;
    if (status === 404) return false;
    throw Client.serverError(status, raw);
  }

  /**
   * POST /api/licenses/leases/{id}/borrow: a verified license file valid for `seconds` (at most
   * the license's maxBorrowSeconds), also kept for checkOffline; the seat stays taken until then,
   * heartbeats or not. Throws RefusedError with the signed code when refused.
   */
  async borrow(lease: Lease, seconds: number): Promise<{ text: string; payload: Answer }> {
    const nonce = newNonce();
    const body = { ...this.leaseBody(lease.deviceId, nonce), seconds: Math.floor(seconds) };
    const { status, raw } = await this.post(`/api/licenses/leases/${encodeURIComponent(lease.id)}/borrow`, body);
    return this.fileAnswer(status, raw, lease.key, lease.deviceId, nonce);
  }

  // --- usage limits ---------------------------------------------------------------------

  /**
   * POST /api/licenses/usage: records `quantity` on the product's `meter` (from `deviceId`, if
   * given); the verified `usage` { meter, period, used, limit, remaining, resetsAt }. Throws
   * UsageLimitError when the quantity does not fit (nothing recorded), RefusedError for any other
   * refusal.
   *
   * Keyhook counts a record once per idempotency key. Without `idempotencyKey` a fresh one is
   * made, so each call counts: to make your retries safe, make the key once per unit of work and
   * pass the same key again when you retry it.
   */
  async recordUsage(
    key: string,
    meter: string,
    quantity: number,
    options: { idempotencyKey?: string; deviceId?: string } = {},
  ): Promise<Usage> {
    const extra = { meter, quantity, idempotencyKey: options.idempotencyKey ?? randomBytes(16).toString("hex") };
    const { answer } = await this.call("/api/licenses/usage", key, options.deviceId ?? null, extra);
    const usage = answer.usage as Usage | undefined;
    if (answer.valid) {
      if (!usage) throw new VerificationError("malformed", "a usage answer without its usage");
      return usage;
    }
    if (answer.code === "USAGE_LIMIT_REACHED" && usage) throw new UsageLimitError(usage.meter, usage.used, usage.limit, usage.remaining);
    throw new RefusedError(answer.code, answer.detail);
  }

  // --- license files --------------------------------------------------------------------

  /**
   * POST /api/licenses/checkout: activates `deviceId` and returns its verified license file,
   * also kept for checkOffline. `ttlSeconds`: the file's lifetime (within the product's bounds;
   * the product's default when absent). `encrypt`: the file is encrypted to the license key.
   * Throws RefusedError when the license is refused.
   */
  async checkoutFile(
    key: string,
    deviceId: string,
    options: { ttlSeconds?: number; encrypt?: boolean } = {},
  ): Promise<{ text: string; payload: Answer }> {
    const nonce = newNonce();
    const body = this.requestBody(key, deviceId, nonce);
    if (options.ttlSeconds !== undefined) body.ttl = Math.floor(options.ttlSeconds);
    body.encrypt = options.encrypt ?? false;
    const { status, raw } = await this.post("/api/licenses/checkout", body);
    return this.fileAnswer(status, raw, key, deviceId, nonce);
  }

  /** A route's `{ file }` answer (checkout, borrow): the verified file, or the refusal's verified signed answer thrown as RefusedError. */
  private fileAnswer(status: number, raw: Buffer, key: string, deviceId: string, nonce: string): { text: string; payload: Answer } {
    if (status !== 200) throw Client.serverError(status, raw);
    let v: { file?: unknown };
    try {
      v = JSON.parse(raw.toString());
    } catch (e) {
      throw new VerificationError("malformed", (e as Error).message);
    }
    const text = v?.file;
    if (typeof text !== "string") {
      // Refused: the signed answer says why.
      const answer = this.verifyAnswer(raw, key, deviceId, nonce);
      if (!answer.valid) this.cache.forget(this.slot(key, deviceId));
      throw new RefusedError(answer.code, answer.detail);
    }
    // The file carries no nonce, so it proves nothing about the clock: checked against the mark like any file.
    return { text, payload: this.verifyFile(text, key, deviceId) };
  }

  /**
   * Verifies a license file offline, after the clock check (the slot's clock mark): signature (by
   * a key of the set, not retired before issuedAt), lifetime, product, device, issue and expiry
   * times, the build's mode. `key` decrypts encrypted files. The file is kept for checkOffline
   * unless a file issued later is kept already.
   */
  verifyFile(text: string, key: string | null, deviceId: string): Answer {
    const now = this.observeClock(key, deviceId);
    const payload = this.checkFile(text, key, deviceId, now);
    const s = this.slot(key, deviceId);
    const kept = this.cache.file(s);
    let keptIsNewer = false;
    if (kept !== null) {
      try {
        keptIsNewer = parseTime(verifySignedFile(this.keys, kept, key).issuedAt) > parseTime(payload.issuedAt);
      } catch {
        // an unreadable kept file is replaced
      }
    }
    if (!keptIsNewer) this.cache.putFile(s, text);
    return payload;
  }

  /** A license file's own checks at `now` (no clock mark). */
  private checkFile(text: string, key: string | null, deviceId: string, now: Date): Answer {
    return typed(() => {
      const payload = verifySignedFile(this.keys, text, key);
      checkFile(payload, {
        productId: this.productId,
        deviceId,
        now,
        skewMs: this.clockSkewMs,
        environment: this.environment,
        acceptTestLicenses: this.acceptTestLicenses,
      });
      return payload;
    });
  }

  // --- offline --------------------------------------------------------------------------

  /**
   * The standing without Keyhook: after the clock check (the slot's clock mark), the kept license
   * file if it is still valid, else the last good answer if it is within the grace period. Both
   * are verified again.
   */
  checkOffline(key: string | null, deviceId: string): Status {
    const s = this.slot(key, deviceId);
    if (!this.cache.hasProof(s)) throw new NoOfflineProofError();
    const now = this.observeClock(key, deviceId);
    let lastError: KeyhookError | null = null;
    const text = this.cache.file(s);
    if (text !== null) {
      try {
        return Status.ofFile(this.checkFile(text, key, deviceId, now));
      } catch (e) {
        if (!(e instanceof KeyhookError)) throw e;
        lastError = e;
      }
    }
    const kept = this.cache.answer(s);
    if (kept !== null) {
      const answer = typed(() => {
        const a = verifySignedAnswer(this.keys, Buffer.from(kept.body), {
          productId: this.productId,
          deviceId,
          nonce: kept.nonce,
          licenseKey: key,
          environment: this.environment,
          acceptTestLicenses: this.acceptTestLicenses,
        });
        const signedAt = parseTime(a.signedAt, "signedAt");
        if (signedAt > now.getTime() + this.clockSkewMs) throw new RollbackError("behind", a.signedAt);
        if (signedAt + this.graceMs < now.getTime()) throw new GraceExpiredError(a.signedAt);
        // What the answer said ends on its own: a trial, a license's expiry.
        for (const end of [a.trial?.expiresAt, a.license?.expiresAt]) {
          if (typeof end === "string" && parseTime(end, "expiresAt") <= now.getTime()) throw new VerifyError("expired", end);
        }
        return a;
      });
      return Status.ofAnswer(answer, "cached_answer");
    }
    throw lastError ?? new NoOfflineProofError();
  }
}

/** A meter as a usage answer states it (verified). */
export interface Usage {
  meter: string;
  /** `month`, `subscription` or `lifetime`. */
  period: string;
  /** Recorded in the current period (after this record). */
  used: number;
  limit: number;
  remaining: number;
  /** When the period ends and the count starts again (absent for `lifetime`). */
  resetsAt?: string | null;
}

/** The lease as Keyhook answered it. */
export interface LeaseInfo {
  /** `lse_…`. */
  id: string;
  /** The seat is free from this time unless a heartbeat extends it. */
  expiresAt: string;
  /** How often to heartbeat (a third of the lease). */
  heartbeatSeconds: number;
  borrowedUntil?: string | null;
}

/**
 * Where a seat stands, as the heartbeats last learnt it. Lost: Keyhook answered `code`
 * (LEASE_EXPIRED: the lease lapsed or a merchant released it; REVOKED, SUSPENDED, EXPIRED: the
 * license), or the lease lapsed while Keyhook could not be reached (UNREACHABLE). Stop the
 * licensed features then, or lease again.
 */
export type SeatState = { held: true; expiresAt: string } | { held: false; code: string; detail: string };

/** While Keyhook cannot be reached, heartbeats are retried this often until the lease lapses. */
const RETRY_MS = 5_000;

/**
 * A held floating seat (Client.lease): an unref()ed timer heartbeats every `heartbeatSeconds`
 * and records the loss of the seat (`state`, `held`, `lost()`). `release()` stops the heartbeats
 * and gives the seat back.
 */
export class Lease {
  /** The lease as Keyhook first answered it. */
  readonly lease: LeaseInfo;
  readonly id: string;
  private current: SeatState;
  private timer: NodeJS.Timeout | null = null;
  private beat: Promise<void> | null = null;
  private stopped = false;
  private released = false;
  private readonly onLost: Array<(s: SeatState) => void> = [];

  constructor(
    private readonly client: Client,
    readonly key: string,
    readonly deviceId: string,
    /** The verified answer that granted the seat. */
    readonly answer: Answer,
  ) {
    this.lease = answer.lease as LeaseInfo;
    this.id = this.lease.id;
    this.current = { held: true, expiresAt: this.lease.expiresAt };
    this.schedule(Math.max(this.lease.heartbeatSeconds, 1) * 1000);
  }

  /** Where the seat stands now. */
  get state(): SeatState {
    return this.current;
  }

  /** Whether the seat is still held (false once lost or released). */
  get held(): boolean {
    return this.current.held && !this.released;
  }

  /** Resolves when the seat is lost (never while it is held), with the loss. */
  lost(): Promise<SeatState> {
    if (!this.current.held) return Promise.resolve(this.current);
    return new Promise((resolve) => this.onLost.push(resolve));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beat = this.heartbeat().finally(() => {
        this.beat = null;
      });
    }, ms);
    this.timer.unref();
  }

  private lose(code: string, detail: string): void {
    this.current = { held: false, code, detail };
    for (const resolve of this.onLost.splice(0)) resolve(this.current);
  }

  private async heartbeat(): Promise<void> {
    let a: Answer;
    try {
      a = await this.client.heartbeat(this.key, this.id, this.deviceId);
    } catch (e) {
      if (this.stopped) return;
      // Unreachable or not trusted: the seat is held until its lease lapses.
      const expiresAt = this.current.held ? parseTime(this.current.expiresAt, "expiresAt") : 0;
      if (expiresAt <= this.client.now().getTime()) {
        this.lose("UNREACHABLE", e instanceof Error ? e.message : String(e));
        return;
      }
      this.schedule(Math.min(RETRY_MS, Math.max(this.lease.heartbeatSeconds, 1) * 1000));
      return;
    }
    if (this.stopped) return;
    if (!a.valid) {
      this.lose(a.code, a.detail);
      return;
    }
    const lease = a.lease as LeaseInfo | undefined;
    let period = Math.max(this.lease.heartbeatSeconds, 1);
    if (lease) {
      this.current = { held: true, expiresAt: lease.expiresAt };
      period = Math.max(lease.heartbeatSeconds, 1);
    }
    this.schedule(period * 1000);
  }

  /** Client.borrow on this seat. */
  borrow(seconds: number): Promise<{ text: string; payload: Answer }> {
    return this.client.borrow(this, seconds);
  }

  /**
   * `await using seat = await client.lease(…)` (TypeScript 5.2+, Node 18.18+): release() at the
   * end of the scope, ignoring a Keyhook that cannot be reached (the seat frees itself when its
   * lease lapses).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release().catch((e) => {
      if (!(e instanceof KeyhookError)) throw e;
    });
  }

  /** Stops the heartbeats and gives the seat back now (DELETE); false when it had lapsed, or was released before. */
  async release(): Promise<boolean> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.beat) await this.beat;
    if (this.released) return false;
    this.released = true;
    return this.client.releaseLease(this.id);
  }
}
