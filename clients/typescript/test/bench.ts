// Microseconds per offline check (make bench).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as kv from "../src/verify";

const V = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "test-vectors", "vectors.json"), "utf8"));
const keys = kv.KeySet.fromJson(JSON.stringify(V.keys));
const c = V.answers[0];
const body = Buffer.from(c.body);
const f = V.files[0];
const n = 5000;
let t0 = process.cpuUsage();
for (let i = 0; i < n; i++) kv.verifyAnswer(keys, body, c.expect);
const cpu = (since: NodeJS.CpuUsage) => { const d = process.cpuUsage(since); return (d.user + d.system) / n; };
const answerUs = cpu(t0);
const now = new Date(f.now);
t0 = process.cpuUsage();
for (let i = 0; i < n; i++) {
  const p = kv.verifyFile(keys, f.file);
  kv.checkFile(p, { productId: f.productId, deviceId: f.deviceId, now });
}
const fileUs = cpu(t0);
console.log(`typescript: signed answer ${answerUs.toFixed(1)} µs CPU/check, license file ${fileUs.toFixed(1)} µs CPU/check (${n} each)`);
