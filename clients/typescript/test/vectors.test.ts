// The TypeScript verifier and client against clients/test-vectors (made by the server's signing
// code): every case gives its result, in the verifier's functions and through the Client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as kv from "../src/verify";
import { Client, deviceIdFrom, RollbackError, slot, VerificationError } from "../src/index";

const V = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "test-vectors", "vectors.json"), "utf8"));
const keys = kv.KeySet.fromJson(JSON.stringify(V.keys));
const maxAge = V.maxAnswerAgeSeconds * 1000;
const skew = V.clockSkewSeconds * 1000;

function resultOf(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof kv.VerifyError) return e.kind;
    throw e;
  }
}

/** The vectors' name of a client error (the verifier's reason, or clock_rollback). */
function clientResultOf(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof RollbackError) return "clock_rollback";
    if (e instanceof VerificationError) return e.reason;
    throw e;
  }
}

function client(c: { now: string; environment: kv.Environment }, productId: string, cacheDir: string | null = null): Client {
  const now = new Date(c.now);
  return new Client({
    baseUrl: "http://127.0.0.1:9",
    productId,
    keys,
    environment: c.environment,
    cacheDir,
    maxAnswerAgeMs: maxAge,
    clockSkewMs: skew,
    clock: () => now,
  });
}

test("the vectors have every section", () => {
  assert.ok(V.answers.length >= 25 && V.files.length >= 26);
  assert.ok(V.licenseIds.length >= 9 && V.deviceIds.length >= 4);
});

for (const c of V.answers) {
  test(`answer ${c.name} -> ${c.result}`, () => {
    const e = c.expect;
    const got = resultOf(() => {
      const a = kv.verifyAnswer(keys, Buffer.from(c.body), { ...e, environment: c.environment });
      kv.checkFresh(a, new Date(c.now), maxAge, skew);
    });
    assert.equal(got, c.result);
    const viaClient = clientResultOf(() => client(c, e.productId).verifyAnswer(Buffer.from(c.body), e.licenseKey, e.deviceId, e.nonce));
    assert.equal(viaClient, c.result);
  });
}

for (const c of V.files) {
  test(`file ${c.name} -> ${c.result}`, () => {
    let after: string | null = null;
    const got = resultOf(() => {
      const now = new Date(c.now);
      const slot = { productId: c.productId, deviceId: c.deviceId, licenseKey: c.licenseKey };
      after = kv.checkMark(c.mark, slot, { now, hasProof: c.kept, toleranceMs: skew });
      const p = kv.verifyFile(keys, c.file, c.licenseKey);
      kv.checkFile(p, { productId: c.productId, deviceId: c.deviceId, now, skewMs: skew, environment: c.environment });
      assert.deepEqual(p.entitlements, ["pro", "export"]);
    });
    assert.equal(got, c.result);
    assert.equal(after, c.markAfter);
  });

  test(`file ${c.name} through the client -> ${c.result}`, () => {
    // The slot as a client leaves it (its mark, a kept proof), then Client.verifyFile.
    const dir = mkdtempSync(join(tmpdir(), "keyhook-vectors-"));
    try {
      const s = slot(c.productId, c.licenseKey, c.deviceId);
      if (c.mark !== null) writeFileSync(join(dir, `mark-${s}.json`), c.mark);
      if (c.kept) writeFileSync(join(dir, `file-${s}.lic`), c.file);
      const got = clientResultOf(() => client(c, c.productId, dir).verifyFile(c.file, c.licenseKey, c.deviceId));
      assert.equal(got, c.result);
      const markPath = join(dir, `mark-${s}.json`);
      assert.equal(existsSync(markPath) ? readFileSync(markPath, "utf8") : null, c.markAfter ?? c.mark);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
}

for (const c of V.marks) {
  test(`mark for key ${c.licenseKey}`, () => {
    const slot = { productId: c.productId, deviceId: c.deviceId, licenseKey: c.licenseKey };
    assert.equal(kv.sealMark(new Date(c.highWater), slot), c.mark);
    assert.equal(kv.openMark(c.mark, slot).toISOString(), c.highWater);
  });
}

for (const c of V.licenseIds) {
  test(`license id of ${JSON.stringify(c.key)}`, () => {
    assert.equal(kv.licenseId(c.key), c.licenseId);
  });
}

for (const c of V.deviceIds) {
  test(`device id of ${JSON.stringify(c.machineId)} for product ${c.productId}`, () => {
    assert.equal(deviceIdFrom(c.productId, c.machineId), c.deviceId);
  });
}

test("the clock guard keeps the mark in its file", () => {
  const c = V.files.find((f: { name: string }) => f.name === "valid");
  const dir = mkdtempSync(join(tmpdir(), "keyhook-mark-"));
  try {
    const path = join(dir, "mark.json");
    const guard = new kv.ClockGuard(path, { productId: c.productId, deviceId: c.deviceId, licenseKey: c.licenseKey });
    const now = new Date("2026-12-02T00:00:00Z");
    guard.check(now, { hasProof: false }); // first use
    // Wound back into the file's life.
    assert.throws(() => guard.check(new Date("2026-11-28T00:00:00Z"), { hasProof: true }), {
      message: "clock_rollback: behind 2026-12-02T00:00:00.000Z",
    });
    unlinkSync(path);
    assert.throws(() => guard.check(now, { hasProof: true }), { message: "clock_rollback: mark missing" });
    guard.confirm(new Date("2026-11-28T00:00:00Z")); // a fresh online answer
    guard.check(new Date("2026-11-28T00:01:00Z"), { hasProof: true });
  } finally {
    rmSync(dir, { recursive: true });
  }
});
