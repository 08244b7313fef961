// Floating seats and usage against the small Keyhook (fake-keyhook.ts): a lease heartbeats from
// its timer and gives the seat back, a lost seat is reported, the limits' errors carry their
// signed numbers, and a tampered or replayed answer is refused.
import { test, TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as keyhook from "../src/index";
import { Client, ConcurrencyLimitError, KeyhookError, RefusedError, UsageLimitError, VerificationError } from "../src/index";
import { FakeKeyhook, PRODUCT } from "./fake-keyhook";

const KEY = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP";
const OTHER_KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012";

async function setup(t: TestContext) {
  const server = await FakeKeyhook.start();
  server.leaseSeconds = 3; // heartbeats every second
  server.addLicense(KEY, 2, "active", 1, { exports: 5 });
  const dir = mkdtempSync(join(tmpdir(), "keyhook-typescript-"));
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const clock = { offsetMs: 0 };
  const client = new Client({
    baseUrl: server.url,
    productId: PRODUCT,
    keys: server.keysJson(),
    cacheDir: dir,
    clock: () => new Date(Date.now() + clock.offsetMs),
  });
  const heartbeats = () => server.requests.filter(([p]) => p.endsWith("/heartbeat")).map(([, r]) => r);
  return { server, client, clock, heartbeats, device: keyhook.deviceIdFrom(PRODUCT, "machine-1") };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await sleep(50);
  }
  return condition();
}

/** The loss, or null when the seat is still held after `ms`. */
function lostWithin(seat: keyhook.Lease, ms: number): Promise<keyhook.SeatState | null> {
  return Promise.race([seat.lost(), sleep(ms).then(() => null)]);
}

async function rejects<E extends KeyhookError>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    return e as E;
  }
  assert.fail(`expected ${type.name}`);
}

test("a lease heartbeats, and release gives the seat back", async (t) => {
  const { server, client, heartbeats, device } = await setup(t);
  const seat = await client.lease(KEY, device);
  assert.match(seat.id, /^lse_/);
  assert.equal(seat.lease.heartbeatSeconds, 1);
  const first = seat.lease.expiresAt;
  assert.ok(await waitFor(() => heartbeats().length >= 2, 4000), "heartbeats seen");
  assert.equal(seat.held, true);
  const state = seat.state;
  assert.ok(state.held && Date.parse(state.expiresAt) > Date.parse(first), "each heartbeat extends the lease");
  const beats = heartbeats();
  assert.equal(new Set(beats.map((b) => b.nonce)).size, beats.length);
  assert.ok(beats.every((b) => b.deviceId === device));
  assert.equal(await seat.release(), true);
  assert.deepEqual(server.deleted, [seat.id]);
  assert.equal(server.leases.size, 0);
  assert.equal(seat.held, false);
  const count = heartbeats().length;
  await sleep(1300);
  assert.equal(heartbeats().length, count, "no heartbeat after release");
  assert.equal(await seat.release(), false, "a second release sends nothing");
  assert.equal(server.requests.filter(([p]) => p === `DELETE /api/licenses/leases/${seat.id}`).length, 1);
});

test("await using releases the seat at the end of its scope", async (t) => {
  const { server, client, device } = await setup(t);
  let id = "";
  {
    await using seat = await client.lease(KEY, device);
    id = seat.id;
    assert.equal(server.leases.size, 1);
  }
  assert.deepEqual(server.deleted, [id]);
  assert.equal(server.leases.size, 0);
});

test("a seat lost on Keyhook is reported", async (t) => {
  const { server, client, device } = await setup(t);
  const seat = await client.lease(KEY, device);
  t.after(() => seat.release().catch(() => false));
  // A merchant released it (or it lapsed): the next heartbeat answers LEASE_EXPIRED.
  server.leases.get(seat.id)!.expiresAt = server.now() - 1000;
  const lost = await lostWithin(seat, 4000);
  assert.deepEqual(lost && !lost.held && lost.code, "LEASE_EXPIRED");
  assert.equal(seat.held, false);
  assert.equal(await seat.release(), false, "Keyhook answers 404 for a lapsed lease");
});

test("a lease that lapses while Keyhook is unreachable is lost", async (t) => {
  const { server, client, clock, device } = await setup(t);
  const seat = await client.lease(KEY, device);
  t.after(() => seat.release().catch(() => false));
  server.failStatus = 503;
  assert.equal(await lostWithin(seat, 1500), null, "held while the lease runs");
  assert.equal(seat.held, true);
  clock.offsetMs = 10_000;
  const lost = await lostWithin(seat, 4000);
  assert.ok(lost && !lost.held && lost.code === "UNREACHABLE" && lost.detail.includes("503"), JSON.stringify(lost));
});

test("every seat in use rejects with the signed numbers", async (t) => {
  const { client, device } = await setup(t);
  const seat = await client.lease(KEY, device);
  t.after(() => seat.release().catch(() => false));
  const again = await client.lease(KEY, device);
  t.after(() => again.release().catch(() => false));
  assert.equal(again.id, seat.id, "one device holds one seat");
  const other = keyhook.deviceIdFrom(PRODUCT, "machine-2");
  const e = await rejects(client.lease(KEY, other), ConcurrencyLimitError);
  assert.deepEqual([e.inUse, e.maxConcurrent, e.kind], [1, 1, "concurrency_limit"]);
  const r = await rejects(client.lease(OTHER_KEY, other), RefusedError);
  assert.equal(r.code, "NOT_FOUND");
});

test("a borrowed seat is a verified license file kept for offline use", async (t) => {
  const { server, client, device } = await setup(t);
  const seat = await client.lease(KEY, device);
  t.after(() => seat.release().catch(() => false));
  const { text, payload } = await seat.borrow(3600);
  assert.ok(text.includes(keyhook.BEGIN));
  assert.equal(payload.deviceHash, keyhook.deviceHash(PRODUCT, device));
  const borrow = server.requests.find(([p]) => p.endsWith("/borrow"))![1];
  assert.equal(borrow.seconds, 3600);
  assert.equal(client.checkOffline(KEY, device).source, "license_file");
  // Four more base64 characters in the armored file: it no longer verifies.
  server.tamper = (b) => Buffer.from(b.toString().replace("\\n", "\\nAAAA"));
  await rejects(seat.borrow(60), VerificationError);
});

test("a tampered or replayed lease answer is refused", async (t) => {
  const { server, client, clock, device } = await setup(t);
  server.tamper = (b) => Buffer.from(b.toString().replace('"heartbeatSeconds":1', '"heartbeatSeconds":9'));
  const e = await rejects(client.lease(KEY, device), VerificationError);
  assert.equal(e.reason, "bad_signature");
  server.tamper = null;
  const seat = await client.lease(KEY, device);
  t.after(() => seat.release().catch(() => false));
  // A replayed heartbeat answer (another nonce) is not trusted: the seat is not extended by it,
  // and is lost once the lease lapses.
  server.replay = true;
  clock.offsetMs = 10_000;
  const lost = await lostWithin(seat, 4000);
  assert.ok(lost && !lost.held && lost.code === "UNREACHABLE" && lost.detail.includes("wrong_nonce"), JSON.stringify(lost));
});

test("usage remaining decreases and the limit rejects with its numbers", async (t) => {
  const { server, client } = await setup(t);
  const u = await client.recordUsage(KEY, "exports", 2);
  assert.deepEqual([u.meter, u.used, u.limit, u.remaining], ["exports", 2, 5, 3]);
  assert.equal((await client.recordUsage(KEY, "exports", 2)).remaining, 1);
  const e = await rejects(client.recordUsage(KEY, "exports", 2), UsageLimitError);
  assert.deepEqual([e.meter, e.used, e.limit, e.remaining, e.kind], ["exports", 4, 5, 1, "usage_limit"]);
  const keys = server.requests.map(([, r]) => r.idempotencyKey as string);
  assert.equal(new Set(keys).size, 3);
  assert.ok(keys.every((k) => /^[0-9a-f]{32}$/.test(k)));
});

test("a retry with the caller's idempotency key counts once", async (t) => {
  const { server, client, device } = await setup(t);
  const a = await client.recordUsage(KEY, "exports", 1, { idempotencyKey: "job-7", deviceId: device });
  const b = await client.recordUsage(KEY, "exports", 1, { idempotencyKey: "job-7", deviceId: device });
  assert.deepEqual([a.remaining, b.remaining], [4, 4]);
  assert.equal(server.requests[0][1].deviceId, device);
});

test("a tampered or replayed usage answer is refused", async (t) => {
  const { server, client } = await setup(t);
  server.tamper = (b) => Buffer.from(b.toString().replace('"remaining":3', '"remaining":5'));
  assert.equal((await rejects(client.recordUsage(KEY, "exports", 2), VerificationError)).reason, "bad_signature");
  server.tamper = null;
  server.replay = true;
  assert.equal((await rejects(client.recordUsage(KEY, "exports", 1), VerificationError)).reason, "wrong_nonce");
});
