// A merchant's app, in a few lines: check the license at start, activate this machine on first
// run, keep a license file for offline use.
//
//   npm run build && KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 \
//     KEYHOOK_KEYS=signing-keys.json node dist/examples/check-license.js XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
//
// (signing-keys.json: the body of GET /api/tenants/{tenantId}/signing-keys; ship it with your
// app. In Electron's main process, cacheDir is typically join(app.getPath("userData"), "license").)
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, deviceId, KeyhookError, NetworkError } from "../src/index";

const DAY = 86_400_000;

async function main(): Promise<number> {
  const product = process.env.KEYHOOK_PRODUCT!;
  const key = process.argv[2];
  const client = new Client({
    baseUrl: process.env.KEYHOOK_URL!,
    productId: product,
    keys: readFileSync(process.env.KEYHOOK_KEYS!, "utf8"),
    cacheDir: join(tmpdir(), `myapp-license-${product}`),
    graceMs: 14 * DAY,
  });
  const device = deviceId(product);

  let status = await client.validate(key, device);
  if (status.code === "NOT_ACTIVATED") status = await client.activate(key, device, "My computer");
  if (!status.valid) {
    console.error(`license refused: ${status.code} (${status.detail})`);
    return 1;
  }
  // Online: refresh the license file that keeps the app working offline.
  if (status.source === "online") {
    try {
      const { payload } = await client.checkoutFile(key, device, { encrypt: true });
      console.log(`offline until ${payload.expiresAt}`);
    } catch (e) {
      if (!(e instanceof NetworkError)) console.error(`no license file: ${(e as KeyhookError).message}`);
    }
  }
  console.log(`licensed (${status.source}): ${status.detail}`);
  return 0;
}

main().then((code) => process.exit(code));
