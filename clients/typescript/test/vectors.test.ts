// The TypeScript verifier against clients/test-vectors (made by the server's signing code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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
      const a = kv.verifyAnswer(keys, Buffer.from(c.body), e);
      kv.checkFresh(a, new Date(c.now), maxAge, skew);
    });
    assert.equal(got, c.result);
  });
}

for (const c of V.files) {
  test(`file ${c.name} -> ${c.result}`, () => {
    const got = resultOf(() => {
      const now = new Date(c.now);
      kv.checkClock(now, c.newestSeen ? new Date(c.newestSeen) : null, skew);
      const p = kv.verifyFile(keys, c.file, c.licenseKey);
      kv.checkFile(p, { productId: c.productId, deviceId: c.deviceId, now, skewMs: skew });
      assert.deepEqual(p.entitlements, ["pro", "export"]);
    });
    assert.equal(got, c.result);
  });
}

test("license ids match the server's", () => {
  const c = V.answers[0];
  assert.equal(kv.licenseId(c.expect.licenseKey), JSON.parse(c.body).licenseId);
});
