// The cross-language end-to-end script (tests/clients_e2e.rs runs it through e2e.sh, the same
// script in every language): one phase per run, one JSON line per step on stdout.
//
//   node dist/examples/e2e.js online | offline | rollback | seats
//
// Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
// KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT, KEYHOOK_CLOCK_OFFSET_SECONDS (optional). For `seats`,
// the product is a floating one (maxConcurrent 1) with a meter `exports` (limit 2 per month).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  Client,
  ConcurrencyLimitError,
  deviceIdFrom,
  Environment,
  KeyhookError,
  Lease,
  RefusedError,
  Status,
  UsageLimitError,
} from "../src/index";

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
  seats: [
    ["lease", "dev-A"],
    ["lease", "dev-B"],
    ["release", "dev-A"],
    ["lease", "dev-B"],
    ["usage", "dev-B"],
    ["usage", "dev-B"],
    ["usage", "dev-B"],
    ["release", "dev-B"],
  ],
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

/** The seats phase: run gives [ok, code]; the limit errors print their numbers, any other refusal its signed code, any other error its kind; always online. */
async function seatOutcome(run: () => Promise<[boolean, string]>) {
  try {
    const [ok, code] = await run();
    return { ok, code, offline: false };
  } catch (e) {
    if (e instanceof ConcurrencyLimitError) return { ok: false, code: `CONCURRENCY_LIMIT_REACHED ${e.inUse}/${e.maxConcurrent}`, offline: false };
    if (e instanceof UsageLimitError) return { ok: false, code: `USAGE_LIMIT_REACHED ${e.used}/${e.limit}`, offline: false };
    if (e instanceof RefusedError) return { ok: false, code: e.code, offline: false };
    if (e instanceof KeyhookError) return { ok: false, code: e.kind, offline: false };
    throw e;
  }
}

/** lease D: a floating seat, kept by name; release D: gives it back (RELEASED, or NOT_LIVE when it was no longer live); usage D: 1 export from D, idempotency key e2e-seats-<n>. */
async function seats(client: Client, product: string, key: string): Promise<void> {
  const leases = new Map<string, Lease>();
  const actions: Record<string, (n: number, name: string, device: string) => Promise<[boolean, string]>> = {
    lease: async (_n, name, device) => {
      const seat = await client.lease(key, device);
      leases.set(name, seat);
      return [true, seat.answer.code];
    },
    release: async (_n, name) => {
      const seat = leases.get(name);
      leases.delete(name);
      return seat && (await seat.release()) ? [true, "RELEASED"] : [false, "NOT_LIVE"];
    },
    usage: async (n, _name, device) => {
      const u = await client.recordUsage(key, "exports", 1, { idempotencyKey: `e2e-seats-${n}`, deviceId: device });
      return [true, `VALID ${u.used}/${u.limit}`];
    },
  };
  let n = 0;
  for (const [action, name] of STEPS.seats) {
    n += 1;
    const device = deviceIdFrom(product, name);
    const line = { step: `seats.${n}.${action} ${name}`, ...(await seatOutcome(() => actions[action](n, name, device))) };
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

async function main(phase: string): Promise<void> {
  const env = process.env;
  const [url, product, key, cache] = [env.KEYHOOK_URL!, env.KEYHOOK_PRODUCT_ID!, env.KEYHOOK_LICENSE_KEY!, env.KEYHOOK_CACHE_DIR!];
  const offsetMs = Number(env.KEYHOOK_CLOCK_OFFSET_SECONDS || 0) * 1000;
  const keysPath = join(cache, "keys.json");
  if (phase === "online" || phase === "seats") {
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
  if (phase === "seats") return seats(client, product, key);
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
  console.error("usage: e2e.js online|offline|rollback|seats");
  process.exit(2);
}
main(phase).catch((e) => {
  console.error(e);
  process.exit(1);
});
