// The TypeScript verifier against clients/test-vectors (made by the server's signing code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as kv from "../src/verify";

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

for (const c of V.answers) {
  test(`answer ${c.name} -> ${c.result}`, () => {
    const e = c.expect;
    const got = resultOf(() => {
      const a = kv.verifyAnswer(keys, Buffer.from(c.body), { ...e, environment: c.environment });
      kv.checkFresh(a, new Date(c.now), maxAge, skew);
    });
    assert.equal(got, c.result);
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
}

for (const c of V.marks) {
  test(`mark for key ${c.licenseKey}`, () => {
    const slot = { productId: c.productId, deviceId: c.deviceId, licenseKey: c.licenseKey };
    assert.equal(kv.sealMark(new Date(c.highWater), slot), c.mark);
    assert.equal(kv.openMark(c.mark, slot).toISOString(), c.highWater);
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

test("license ids match the server's", () => {
  const c = V.answers[0];
  assert.equal(kv.licenseId(c.expect.licenseKey), JSON.parse(c.body).licenseId);
});
