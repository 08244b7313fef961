// Microseconds of CPU per offline check on the shared vectors (make bench): a signed answer
// (signature, format, product, device, license, nonce), a license file (armour, signature,
// payload, product, device, times) and an encrypted one (+ HKDF, AES-256-GCM).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as kv from "../src/verify";

const V = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "test-vectors", "vectors.json"), "utf8"));
const keys = kv.KeySet.fromJson(JSON.stringify(V.keys));
const byName = (section: Array<{ name: string }>, name: string) => section.find((c) => c.name === name) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const n = 5000;

function perCheck(fn: () => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

const answer = byName(V.answers, "valid");
const body = Buffer.from(answer.body);
const answerUs = perCheck(() => kv.verifyAnswer(keys, body, answer.expect));
const fileCheck = (c: Record<string, any>) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  const now = new Date(c.now);
  return () => kv.checkFile(kv.verifyFile(keys, c.file, c.licenseKey), { productId: c.productId, deviceId: c.deviceId, now });
};
const fileUs = perCheck(fileCheck(byName(V.files, "valid")));
const encryptedUs = perCheck(fileCheck(byName(V.files, "valid-encrypted")));
console.log(
  `typescript: signed answer ${answerUs.toFixed(1)} µs CPU/check, license file ${fileUs.toFixed(1)} µs CPU/check, ` +
    `encrypted license file ${encryptedUs.toFixed(1)} µs CPU/check (${n} each)`,
);
