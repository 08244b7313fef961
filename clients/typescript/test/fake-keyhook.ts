// A small Keyhook for the client's tests: the validation routes over real HTTP on a loopback
// port, answers signed with its own Ed25519 key in the server's format, license files plain or
// encrypted, and knobs to misbehave (replay, tamper, answer about something else, fail, move
// its clock). What the real server does is proven by the cross-language end-to-end test
// (tests/clients_e2e.rs); this one lets each refusal be provoked on purpose.
import { createCipheriv, generateKeyPairSync, hkdfSync, KeyObject, randomBytes, sign } from "node:crypto";
import { createServer, Server } from "node:http";
import { AddressInfo } from "node:net";
import * as kv from "../src/verify";

export const PRODUCT = "42";
const DETAILS: Record<string, string> = {
  VALID: "The license is valid.",
  TRIAL: "The trial is running.",
  NOT_FOUND: "No license with this key exists for this product.",
  NOT_ACTIVATED: "The device is not activated on this license.",
  DEVICE_LIMIT_REACHED: "The license is activated on its maximum number of devices.",
  REVOKED: "The license has been revoked.",
  CONCURRENCY_LIMIT_REACHED: "Every seat of the license is in use.",
  LEASE_EXPIRED: "The lease has lapsed or was released.",
  USAGE_LIMIT_REACHED: "The quantity exceeds what remains of the meter this period.",
};

export interface FakeLicense {
  id: string;
  status: string;
  maxDevices: number;
  devices: string[];
  expiresAt: string;
  maxConcurrent: number;
  /** meter -> its limit, what is used, the idempotency keys counted. */
  meters: Map<string, { limit: number; used: number; keys: Set<string> }>;
}

export interface FakeLease {
  license: FakeLicense;
  device: string;
  key: string;
  expiresAt: number;
}

type Req = Record<string, unknown> & { productId: string; deviceId?: string; licenseKey?: string; nonce?: string };

export class FakeKeyhook {
  readonly kid: string;
  readonly publicKey: string;
  readonly licenses = new Map<string, FakeLicense>();
  readonly trials = new Map<string, number>();
  readonly requests: Array<[string, Req]> = [];
  // Misbehaviours, off by default.
  clockOffsetMs = 0;
  failStatus: number | null = null;
  replay = false;
  tamper: ((body: Buffer) => Buffer) | null = null;
  rewrite: ((a: Record<string, unknown>) => void) | null = null;
  livemode = true;
  url = "";
  // Floating seats: lease id -> its lease; heartbeatSeconds = leaseSeconds / 3.
  leaseSeconds = 900;
  readonly leases = new Map<string, FakeLease>();
  readonly deleted: string[] = [];
  private lastBody: Buffer | null = null;
  private readonly privateKey: KeyObject;
  private readonly server: Server;

  private constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    this.privateKey = privateKey;
    const raw = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
    this.publicKey = raw.toString("base64");
    this.kid = kv.keyId(raw);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "DELETE") {
          res.writeHead(this.delete(req.url ?? ""), { "content-length": 0 });
          res.end();
          return;
        }
        const [status, out] = this.route(req.url ?? "", JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(status, { "content-type": "application/json", "content-length": out.length });
        res.end(out);
      });
    });
  }

  static async start(): Promise<FakeKeyhook> {
    const fake = new FakeKeyhook();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  keysJson(retiredAt: string | null = null): string {
    const key: Record<string, string> = {
      kid: this.kid,
      alg: "Ed25519",
      publicKey: this.publicKey,
      status: retiredAt ? "retired" : "active",
      createdAt: "2026-01-01T00:00:00.000Z",
    };
    if (retiredAt) key.retiredAt = retiredAt;
    return JSON.stringify({ keys: [key] });
  }

  addLicense(key: string, maxDevices = 2, status = "active", maxConcurrent = 1, meters: Record<string, number> = {}): string {
    const id = kv.licenseId(key)!;
    this.licenses.set(kv.canonicalKey(key)!, {
      id,
      status,
      maxDevices,
      devices: [],
      expiresAt: "2099-01-01T00:00:00.000Z",
      maxConcurrent,
      meters: new Map(Object.entries(meters).map(([m, limit]) => [m, { limit, used: 0, keys: new Set<string>() }])),
    });
    return id;
  }

  license(key: string): FakeLicense {
    return this.licenses.get(kv.canonicalKey(key)!)!;
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private sign(message: Buffer): Buffer {
    const signature = sign(null, message, this.privateKey).toString("base64");
    return Buffer.concat([message.subarray(0, message.length - 1), Buffer.from(`,"signature":"${signature}"}`)]);
  }

  private answer(
    req: Req,
    code: string,
    lic: FakeLicense | null,
    trial: Record<string, string> | null = null,
    extra: Record<string, unknown> = {},
  ): Buffer {
    const a: Record<string, unknown> = {
      format: kv.ANSWER_FORMAT,
      valid: code === "VALID" || code === "TRIAL",
      code,
      detail: DETAILS[code],
      livemode: this.livemode,
      productId: req.productId,
    };
    if (req.deviceId !== undefined) a.deviceHash = kv.deviceHash(req.productId, req.deviceId);
    if (lic) {
      a.licenseId = lic.id;
      a.license = {
        id: lic.id,
        productId: req.productId,
        status: lic.status,
        expiresAt: lic.expiresAt,
        maxDevices: lic.maxDevices,
        activeDevices: lic.devices.length,
      };
    }
    if (trial) a.trial = trial;
    Object.assign(a, extra);
    a.nonce = req.nonce;
    a.signedAt = kv.formatTime(this.now());
    a.kid = this.kid;
    this.rewrite?.(a);
    let body = this.sign(Buffer.from(JSON.stringify(a)));
    if (this.replay && this.lastBody) body = this.lastBody;
    this.lastBody = body;
    return this.tamper ? this.tamper(body) : body;
  }

  private licenseFile(req: Req, lic: FakeLicense, ttl: number, encrypt: boolean): string {
    const issued = this.now();
    const payload = {
      format: kv.FILE_FORMAT,
      kid: this.kid,
      tenantId: "ten_fake",
      licenseId: lic.id,
      productId: req.productId,
      deviceHash: kv.deviceHash(req.productId, req.deviceId!),
      livemode: this.livemode,
      license: { status: lic.status, expiresAt: lic.expiresAt, maxDevices: lic.maxDevices, maxIps: 0 },
      entitlements: ["pro"],
      issuedAt: kv.formatTime(issued),
      expiresAt: kv.formatTime(issued + ttl * 1000),
    };
    let plain = Buffer.from(JSON.stringify(payload));
    if (encrypt) {
      const key = Buffer.from(hkdfSync("sha256", kv.secretBytes(req.licenseKey!), Buffer.alloc(0), Buffer.from("keyhook-license-file-v1/aes-256-gcm"), 32));
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      plain = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    }
    const enc = encrypt ? "aes-256-gcm" : "none";
    const payloadB64 = plain.toString("base64");
    const signature = sign(null, Buffer.from(`${kv.FILE_FORMAT}.${enc}.${this.kid}.${payloadB64}`), this.privateKey).toString("base64");
    const envelope = JSON.stringify({ format: kv.FILE_FORMAT, alg: "Ed25519", kid: this.kid, enc, payload: payloadB64, signature });
    const b64 = Buffer.from(envelope).toString("base64");
    const lines = b64.match(/.{1,64}/g) ?? [];
    return [kv.BEGIN, ...lines, kv.END].join("\n") + "\n";
  }

  private leaseAnswer(req: Req, leaseId: string): Buffer {
    const le = this.leases.get(leaseId)!;
    const lease = { id: leaseId, expiresAt: kv.formatTime(le.expiresAt), heartbeatSeconds: Math.max(Math.floor(this.leaseSeconds / 3), 1) };
    return this.answer(req, "VALID", le.license, null, { lease });
  }

  /** POST /api/licenses/leases/{id}/heartbeat and /borrow. */
  private leaseRoute(path: string, req: Req): [number, Buffer] {
    const [leaseId, action] = path.slice("/api/licenses/leases/".length).split("/");
    const le = this.leases.get(leaseId);
    if (!le || le.device !== req.deviceId) return [404, Buffer.from('{"error":{"code":"not_found","message":"no such lease"}}')];
    if (le.expiresAt <= this.now()) return [200, this.answer(req, "LEASE_EXPIRED", le.license)];
    if (action === "heartbeat") {
      le.expiresAt = this.now() + this.leaseSeconds * 1000;
      return [200, this.leaseAnswer(req, leaseId)];
    }
    if (action === "borrow") {
      const seconds = req.seconds as number;
      le.expiresAt = this.now() + seconds * 1000;
      const file = this.licenseFile({ ...req, licenseKey: le.key }, le.license, seconds, false);
      const out = Buffer.from(JSON.stringify({ file, kid: this.kid }));
      return [200, this.tamper ? this.tamper(out) : out];
    }
    return [404, Buffer.from('{"error":{"code":"not_found","message":"no such route"}}')];
  }

  private delete(path: string): number {
    this.requests.push([`DELETE ${path}`, { productId: "" }]);
    const leaseId = path.slice("/api/licenses/leases/".length);
    const le = this.leases.get(leaseId);
    this.leases.delete(leaseId);
    this.deleted.push(leaseId);
    return le && le.expiresAt > this.now() ? 204 : 404;
  }

  private route(path: string, req: Req): [number, Buffer] {
    this.requests.push([path, req]);
    if (this.failStatus !== null) {
      return [this.failStatus, Buffer.from(JSON.stringify({ error: { code: "unavailable", message: "try again" } }))];
    }
    if (path.startsWith("/api/licenses/leases/")) return this.leaseRoute(path, req);
    const { licenseKey: key, deviceId: device } = req;
    if (path === "/api/licenses/validate" && key === undefined) {
      if (!this.trials.has(device!)) this.trials.set(device!, this.now());
      const started = this.trials.get(device!)!;
      const trial = {
        productId: req.productId,
        deviceHash: kv.deviceHash(req.productId, device!),
        startedAt: kv.formatTime(started),
        expiresAt: kv.formatTime(started + 14 * 86_400_000),
      };
      return [200, this.answer(req, "TRIAL", null, trial)];
    }
    const lic = this.licenses.get(kv.canonicalKey(key ?? "") ?? "");
    if (!lic) return [200, this.answer(req, "NOT_FOUND", null)];
    if (lic.status === "revoked") return [200, this.answer(req, "REVOKED", lic)];
    if (path === "/api/licenses/leases") {
      const live = [...this.leases].filter(([, le]) => le.license === lic && le.expiresAt > this.now());
      const mine = live.find(([, le]) => le.device === device);
      if (!mine && live.length >= lic.maxConcurrent) {
        return [200, this.answer(req, "CONCURRENCY_LIMIT_REACHED", lic, null, { seats: { inUse: live.length, maxConcurrent: lic.maxConcurrent } })];
      }
      const leaseId = mine ? mine[0] : `lse_${lic.id}_${randomBytes(10).toString("hex")}`;
      this.leases.set(leaseId, { license: lic, device: device!, key: key!, expiresAt: this.now() + this.leaseSeconds * 1000 });
      return [200, this.leaseAnswer(req, leaseId)];
    }
    if (path === "/api/licenses/usage") {
      const m = lic.meters.get(req.meter as string)!;
      const idem = req.idempotencyKey as string;
      const quantity = req.quantity as number;
      const counted = m.keys.has(idem);
      const fits = counted || m.used + quantity <= m.limit;
      if (fits && !counted) {
        m.used += quantity;
        m.keys.add(idem);
      }
      const usage = { meter: req.meter, period: "month", used: m.used, limit: m.limit, remaining: m.limit - m.used, resetsAt: "2099-01-01T00:00:00.000Z" };
      return [200, this.answer(req, fits ? "VALID" : "USAGE_LIMIT_REACHED", lic, null, { usage })];
    }
    const active = lic.devices.includes(device!);
    if (path === "/api/licenses/validate") return [200, this.answer(req, active ? "VALID" : "NOT_ACTIVATED", lic)];
    if (path === "/api/licenses/deactivate") {
      if (active) lic.devices.splice(lic.devices.indexOf(device!), 1);
      return [200, this.answer(req, "NOT_ACTIVATED", lic)];
    }
    if (path === "/api/licenses/activate" || path === "/api/licenses/checkout") {
      if (!active && lic.devices.length >= lic.maxDevices) return [200, this.answer(req, "DEVICE_LIMIT_REACHED", lic)];
      if (!active) lic.devices.push(device!);
      if (path === "/api/licenses/activate") return [200, this.answer(req, "VALID", lic)];
      const file = this.licenseFile(req, lic, (req.ttl as number | undefined) ?? 7 * 86_400, Boolean(req.encrypt));
      return [200, Buffer.from(JSON.stringify({ file, kid: this.kid }))];
    }
    return [404, Buffer.from('{"error":{"code":"not_found","message":"no such route"}}')];
  }
}
