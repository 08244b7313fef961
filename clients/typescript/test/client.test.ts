// The client against a small Keyhook over real HTTP (fake-keyhook.ts): every answer is verified
// (nonce, product, device, license, key, freshness, mode), the offline fallback holds within the
// grace period and refuses a clock set back, and a revoked license loses its proofs.
import { test, TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as keyhook from "../src/index";
import { Client, ClientOptions, KeyhookError } from "../src/index";
import { FakeKeyhook, PRODUCT } from "./fake-keyhook";

const KEY = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP";
const OTHER_KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012";
const UNREACHABLE = "http://127.0.0.1:9";
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface Setup {
  server: FakeKeyhook;
  dir: string;
  clock: { offsetMs: number };
  device: string;
  client: (options?: Partial<ClientOptions>) => Client;
  files: (prefix: string) => string[];
}

async function setup(t: TestContext): Promise<Setup> {
  const server = await FakeKeyhook.start();
  server.addLicense(KEY, 1);
  const dir = mkdtempSync(join(tmpdir(), "keyhook-typescript-"));
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = { offsetMs: 0 };
  return {
    server,
    dir,
    clock,
    device: keyhook.deviceIdFrom(PRODUCT, "machine-1"),
    client: (options = {}) =>
      new Client({
        baseUrl: server.url,
        productId: PRODUCT,
        keys: server.keysJson(),
        cacheDir: dir,
        clock: () => new Date(Date.now() + clock.offsetMs),
        ...options,
      }),
    files: (prefix) => readdirSync(dir).filter((f) => f.startsWith(prefix)),
  };
}

async function refused(fn: () => unknown): Promise<KeyhookError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof KeyhookError) return e;
    throw e;
  }
  assert.fail("expected a KeyhookError");
}

// --- online ----------------------------------------------------------------------------------

test("validate, activate and the device limit, each with a fresh nonce", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  let s = await c.validate(KEY, device);
  assert.deepEqual([s.valid, s.code, s.source, s.offline], [false, "NOT_ACTIVATED", "online", false]);
  s = await c.activate(KEY, device, "Ada's laptop");
  assert.deepEqual([s.valid, s.code], [true, "VALID"]);
  assert.equal(s.answer!.license.activeDevices, 1);
  assert.equal((await c.activate(KEY, keyhook.deviceIdFrom(PRODUCT, "machine-2"))).code, "DEVICE_LIMIT_REACHED");
  assert.equal(server.requests[1][1].deviceName, "Ada's laptop");
  const nonces = server.requests.map(([, r]) => r.nonce as string);
  assert.equal(new Set(nonces).size, 3);
  assert.ok(nonces.every((n) => /^[0-9a-f]{32}$/.test(n)));
  assert.ok(server.requests.every(([, r]) => r.environment === "live"));
});

test("a trial is verified as this device's trial", async (t) => {
  const { client, device, server } = await setup(t);
  const s = await client().trial(device);
  assert.deepEqual([s.valid, s.code], [true, "TRIAL"]);
  assert.equal(s.answer!.trial.deviceHash, keyhook.deviceHash(PRODUCT, device));
  assert.equal(server.requests[0][1].licenseKey, undefined);
});

test("a replayed answer is refused", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  await c.activate(KEY, device);
  server.replay = true;
  const e = await refused(() => c.validate(KEY, device));
  assert.ok(e instanceof keyhook.VerificationError);
  assert.deepEqual([e.kind, e.reason], ["verification", "wrong_nonce"]);
});

test("an answer about another product, device or license is refused", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  await c.activate(KEY, device);
  const other = keyhook.licenseId(OTHER_KEY);
  const cases: Array<[(a: Record<string, unknown>) => void, string]> = [
    [(a) => (a.productId = "43"), "wrong_product"],
    [(a) => (a.deviceHash = keyhook.deviceHash(PRODUCT, "machine-2")), "wrong_device"],
    [(a) => ((a.licenseId = other), (a.license = { ...(a.license as object), id: other })), "wrong_license"],
  ];
  for (const [rewrite, reason] of cases) {
    server.rewrite = rewrite;
    const e = (await refused(() => c.validate(KEY, device))) as keyhook.VerificationError;
    assert.deepEqual([e.kind, e.reason], ["verification", reason]);
  }
});

test("a tampered answer fails its signature", async (t) => {
  const { client, device, server } = await setup(t);
  server.tamper = (b) => Buffer.from(b.toString().replace('"maxDevices":1', '"maxDevices":9'));
  const e = (await refused(() => client().activate(KEY, device))) as keyhook.VerificationError;
  assert.deepEqual([e.kind, e.reason], ["verification", "bad_signature"]);
});

test("stale and future answers are refused", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  server.clockOffsetMs = -6 * MINUTE;
  assert.equal(((await refused(() => c.validate(KEY, device))) as keyhook.VerificationError).reason, "stale");
  server.clockOffsetMs = 6 * MINUTE;
  assert.equal(((await refused(() => c.validate(KEY, device))) as keyhook.VerificationError).reason, "not_yet_valid");
  server.clockOffsetMs = 4 * MINUTE; // within the clock skew
  assert.equal((await c.validate(KEY, device)).code, "NOT_ACTIVATED");
});

test("another tenant's keys trust nothing", async (t) => {
  const { client, device } = await setup(t);
  const stranger = await FakeKeyhook.start();
  t.after(() => stranger.close());
  const e = (await refused(() => client({ keys: stranger.keysJson() }).validate(KEY, device))) as keyhook.VerificationError;
  assert.deepEqual([e.kind, e.reason], ["verification", "unknown_key"]);
});

test("a retired key's new signatures are refused", async (t) => {
  const { client, device, server } = await setup(t);
  const retired = keyhook.formatTime(Date.now() - 60 * MINUTE);
  const e = await refused(() => client({ keys: server.keysJson(retired) }).validate(KEY, device));
  assert.ok(e instanceof keyhook.RetiredKeyError && e instanceof keyhook.VerificationError);
  assert.equal(e.kind, "retired_key");
});

test("a live build refuses a valid test license and a test build takes it", async (t) => {
  const { client, device, server } = await setup(t);
  server.livemode = false;
  const e = await refused(() => client().activate(KEY, device));
  assert.ok(e instanceof keyhook.TestLicenseError);
  assert.equal(e.kind, "test_license");
  const s = await client({ environment: "test" }).validate(KEY, device);
  assert.deepEqual([s.valid, s.livemode], [true, false]);
  assert.equal(server.requests.at(-1)![1].environment, "test");
  assert.ok((await client({ acceptTestLicenses: true }).validate(KEY, device)).valid);
});

test("HTTP errors are typed", async (t) => {
  const { client, device, server } = await setup(t);
  server.failStatus = 409;
  const e = await refused(() => client().activate(KEY, device));
  assert.ok(e instanceof keyhook.ServerError);
  assert.deepEqual([e.kind, e.status, e.code, e.serverMessage], ["server", 409, "unavailable", "try again"]);
});

test("a server that never answers is a network error", async (t) => {
  const { client, device } = await setup(t);
  const silent = createServer(() => {}); // accepts connections, never answers
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => silent.close());
  const port = (silent.address() as { port: number }).port;
  const e = await refused(() => client({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 300 }).validate(KEY, device));
  assert.equal(e.kind, "network");
  assert.match(e.message, /timed out/);
});

// --- offline ---------------------------------------------------------------------------------

test("unreachable falls back to the last answer within the grace period", async (t) => {
  const { client, device, clock } = await setup(t);
  await client().activate(KEY, device);
  const offline = client({ baseUrl: UNREACHABLE, graceMs: 3 * DAY });
  let s = await offline.validate(KEY, device);
  assert.deepEqual([s.valid, s.code, s.source, s.offline], [true, "VALID", "cached_answer", true]);
  clock.offsetMs = 3 * DAY - 60 * MINUTE;
  s = await offline.validate(KEY, device);
  assert.ok(s.valid);
  clock.offsetMs = 3 * DAY + MINUTE;
  const e = await refused(() => offline.validate(KEY, device));
  assert.ok(e instanceof keyhook.GraceExpiredError);
  assert.equal(e.kind, "grace_expired");
  // A device never seen has nothing kept: the network error comes through.
  assert.equal((await refused(() => offline.validate(KEY, keyhook.deviceIdFrom(PRODUCT, "machine-2")))).kind, "network");
});

test("a 5xx falls back offline and a 4xx does not", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  await c.activate(KEY, device);
  server.failStatus = 503;
  assert.equal((await c.validate(KEY, device)).source, "cached_answer");
  server.failStatus = 429;
  assert.equal((await refused(() => c.validate(KEY, device))).kind, "server");
});

test("a license file carries the app offline and a clock set back is refused", async (t) => {
  const { client, device, server, clock, dir, files } = await setup(t);
  const { text, payload } = await client().checkoutFile(KEY, device, { ttlSeconds: 7 * 86_400, encrypt: true });
  assert.match(text, /BEGIN KEYHOOK LICENSE FILE/);
  assert.deepEqual(payload.entitlements, ["pro"]);
  assert.equal(server.requests.at(-1)![1].ttl, 7 * 86_400);
  assert.equal(server.requests.at(-1)![1].encrypt, true);
  assert.throws(() => keyhook.verifyFile(keyhook.KeySet.fromJson(server.keysJson()), text), { message: "key_required" });
  const offline = client({ baseUrl: UNREACHABLE, graceMs: 0 });
  clock.offsetMs = 5 * DAY;
  let s = await offline.validate(KEY, device);
  assert.deepEqual([s.valid, s.source], [true, "license_file"]);
  assert.ok(s.has("pro") && !s.has("enterprise"));
  // Wound back two days (still inside the file's life): behind the mark.
  clock.offsetMs = 3 * DAY;
  let e = await refused(() => offline.validate(KEY, device));
  assert.ok(e instanceof keyhook.RollbackError);
  assert.deepEqual([e.kind, e.reason], ["rollback", "behind"]);
  // The mark deleted, or edited back.
  const mark = join(dir, files("mark-")[0]);
  const stored = readFileSync(mark, "utf8");
  unlinkSync(mark);
  e = await refused(() => offline.validate(KEY, device));
  assert.equal((e as keyhook.RollbackError).reason, "mark_missing");
  writeFileSync(mark, stored.replace(JSON.parse(stored).highWater, keyhook.formatTime(Date.now() + 3 * DAY)));
  e = await refused(() => offline.validate(KEY, device));
  assert.equal((e as keyhook.RollbackError).reason, "mark_altered");
  // A fresh online answer (the clock right again) proves the clock and restarts the mark.
  clock.offsetMs = 0;
  assert.ok((await client().validate(KEY, device)).valid);
  assert.equal((await offline.validate(KEY, device)).source, "license_file");
  // Past the file's expiry nothing is left (grace 0 for the answer).
  clock.offsetMs = 8 * DAY;
  assert.equal((await refused(() => offline.validate(KEY, device))).kind, "grace_expired");
});

test("a revoked license forgets its offline proofs", async (t) => {
  const { client, device, server, files } = await setup(t);
  const c = client();
  await c.checkoutFile(KEY, device);
  assert.equal(files("file-").length, 1);
  server.license(KEY).status = "revoked";
  const s = await c.validate(KEY, device);
  assert.deepEqual([s.valid, s.code], [false, "REVOKED"]);
  assert.deepEqual([...files("file-"), ...files("answer-")], []);
  assert.equal((await refused(() => client({ baseUrl: UNREACHABLE }).validate(KEY, device))).kind, "network");
  assert.ok((await refused(() => c.checkOffline(KEY, device))) instanceof keyhook.NoOfflineProofError);
});

test("deactivate frees the seat and forgets the proofs", async (t) => {
  const { client, device, server } = await setup(t);
  const c = client();
  await c.checkoutFile(KEY, device);
  const s = await c.deactivate(KEY, device);
  assert.deepEqual([s.valid, s.code], [false, "NOT_ACTIVATED"]);
  assert.deepEqual(server.license(KEY).devices, []);
  assert.equal((await refused(() => c.checkOffline(KEY, device))).kind, "no_offline_proof");
});

test("a refused checkout is a RefusedError with the signed code", async (t) => {
  const { client, device } = await setup(t);
  const c = client();
  await c.activate(KEY, device);
  const e = await refused(() => c.checkoutFile(KEY, keyhook.deviceIdFrom(PRODUCT, "machine-2")));
  assert.ok(e instanceof keyhook.RefusedError);
  assert.deepEqual([e.kind, e.code], ["refused", "DEVICE_LIMIT_REACHED"]);
});

test("an older file does not replace a newer one", async (t) => {
  const { client, device, server, dir, files } = await setup(t);
  const c = client();
  const older = (await c.checkoutFile(KEY, device)).text;
  server.clockOffsetMs = MINUTE;
  const newer = (await c.checkoutFile(KEY, device)).text;
  c.verifyFile(older, KEY, device);
  assert.equal(readFileSync(join(dir, files("file-")[0]), "utf8"), newer);
});

test("without a cache directory proofs live in memory", async (t) => {
  const { client, device, dir } = await setup(t);
  const c = client({ cacheDir: null });
  await c.checkoutFile(KEY, device);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(c.checkOffline(KEY, device).source, "license_file");
});

// --- device ids and settings -----------------------------------------------------------------

test("device ids are stable per product and hide the machine id", () => {
  const a = keyhook.deviceIdFrom("42", "0123456789abcdef");
  assert.equal(a, keyhook.deviceIdFrom("42", "0123456789abcdef"));
  assert.notEqual(a, keyhook.deviceIdFrom("43", "0123456789abcdef"));
  assert.match(a, /^[0-9a-f]{64}$/);
  if (existsSync("/etc/machine-id")) {
    assert.equal(keyhook.deviceId("42"), keyhook.deviceIdFrom("42", keyhook.machineId()));
  }
});

test("bad settings are refused", async (t) => {
  const { client, server } = await setup(t);
  assert.throws(() => client({ environment: "staging" as keyhook.Environment }), keyhook.ConfigError);
  assert.throws(() => client({ baseUrl: "keyhook.example.com" }), keyhook.ConfigError);
  assert.throws(() => new Client({ baseUrl: server.url, productId: PRODUCT, keys: '{"keys":[]}' }), keyhook.ConfigError);
  assert.throws(() => new Client({ baseUrl: server.url, productId: PRODUCT, keys: "not json" }), keyhook.VerificationError);
});
