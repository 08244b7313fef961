// The cross-language end-to-end script (tests/clients_e2e.rs runs it through e2e.sh, the same
// script in every language): one phase per run, one JSON line per step on stdout.
//
//   node dist/examples/e2e.js online | offline | rollback
//
// Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
// KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT, KEYHOOK_CLOCK_OFFSET_SECONDS (optional).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, deviceIdFrom, Environment, KeyhookError, RefusedError, Status } from "../src/index";

const STEPS: Record<string, Array<[string, string]>> = {
  online: [
    ["validate", "dev-A"],
    ["activate", "dev-A"],
    ["activate", "dev-B"],
    ["activate", "dev-C"],
    ["deactivate", "dev-B"],
    ["activate", "dev-C"],
    ["validate", "dev-A"],
    ["checkout", "dev-A"],
  ],
  offline: [["validate", "dev-A"]],
  rollback: [["validate", "dev-A"]],
};
// Errors that come from what the app keeps, Keyhook being unreachable.
const OFFLINE_KINDS = new Set(["network", "rollback", "grace_expired", "no_offline_proof"]);

/** ok: the standing is valid; code: the signed answer's code (VALID for a license file checked out), or the error's kind; offline: decided without an answer from Keyhook. */
async function outcome(run: () => Promise<Status | { text: string }>) {
  try {
    const s = await run();
    if (!(s instanceof Status)) return { ok: true, code: "VALID", offline: false };
    return { ok: s.valid, code: s.code, offline: s.offline };
  } catch (e) {
    if (e instanceof RefusedError) return { ok: false, code: e.code, offline: false };
    if (e instanceof KeyhookError) return { ok: false, code: e.kind, offline: OFFLINE_KINDS.has(e.kind) };
    throw e;
  }
}

async function main(phase: string): Promise<void> {
  const env = process.env;
  const [url, product, key, cache] = [env.KEYHOOK_URL!, env.KEYHOOK_PRODUCT_ID!, env.KEYHOOK_LICENSE_KEY!, env.KEYHOOK_CACHE_DIR!];
  const offsetMs = Number(env.KEYHOOK_CLOCK_OFFSET_SECONDS || 0) * 1000;
  const keysPath = join(cache, "keys.json");
  if (phase === "online") {
    mkdirSync(cache, { recursive: true });
    const res = await fetch(`${url}/api/tenants/${env.KEYHOOK_TENANT_ID}/signing-keys`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`signing keys: HTTP ${res.status}`);
    writeFileSync(keysPath, Buffer.from(await res.arrayBuffer()));
  }
  const client = new Client({
    baseUrl: url,
    productId: product,
    keys: readFileSync(keysPath, "utf8"),
    cacheDir: cache,
    environment: (env.KEYHOOK_ENVIRONMENT ?? "live") as Environment,
    clock: () => new Date(Date.now() + offsetMs),
  });
  const actions: Record<string, (key: string, device: string) => Promise<Status | { text: string }>> = {
    validate: (k, d) => client.validate(k, d),
    activate: (k, d) => client.activate(k, d),
    deactivate: (k, d) => client.deactivate(k, d),
    checkout: (k, d) => client.checkoutFile(k, d),
  };
  let n = 0;
  for (const [action, name] of STEPS[phase]) {
    n += 1;
    const device = deviceIdFrom(product, name);
    const line = { step: `${phase}.${n}.${action} ${name}`, ...(await outcome(() => actions[action](key, device))) };
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

const phase = process.argv[2];
if (!(phase in STEPS)) {
  console.error("usage: e2e.js online|offline|rollback");
  process.exit(2);
}
main(phase).catch((e) => {
  console.error(e);
  process.exit(1);
});
