package dev.keyhook.examples;

import dev.keyhook.Client;
import dev.keyhook.Config;
import dev.keyhook.Devices;
import dev.keyhook.KeyhookException;
import dev.keyhook.NetworkException;
import dev.keyhook.Source;
import dev.keyhook.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A merchant's app, in a few lines: check the license at start, activate this machine on first
 * run, keep a license file for offline use.
 *
 * <pre>
 * KEYHOOK_URL=https://keyhook.example.com KEYHOOK_PRODUCT=42 KEYHOOK_KEYS=signing-keys.json \
 *   java -cp .build/main dev.keyhook.examples.CheckLicense XXXXX-XXXXX-XXXXX-XXXXX-XXXXX
 * </pre>
 *
 * (signing-keys.json: the body of GET /api/tenants/{tenantId}/signing-keys; ship it as a resource
 * of your app.)
 */
public final class CheckLicense {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: CheckLicense LICENSE-KEY");
      System.exit(2);
    }
    String key = args[0];
    String product = System.getenv("KEYHOOK_PRODUCT");
    String keys = Files.readString(Path.of(System.getenv("KEYHOOK_KEYS")));
    try {
      Client client =
          new Client(
              Config.of(System.getenv("KEYHOOK_URL"), product, keys)
                  .cacheDir(Path.of(System.getProperty("java.io.tmpdir"), "myapp-license-" + product))
                  .grace(Duration.ofDays(14)));
      String device = Devices.deviceId(product);

      Status status = client.validate(key, device);
      if (status.code().equals("NOT_ACTIVATED")) {
        status = client.activate(key, device, "My computer");
      }
      if (!status.valid()) {
        System.err.println("license refused: " + status.code() + " (" + status.detail() + ")");
        System.exit(1);
      }
      // Online: refresh the license file that keeps the app working offline.
      if (status.source() == Source.ONLINE) {
        try {
          System.out.println("offline until " + client.checkoutFile(key, device, null, true).payload().expiresAt());
        } catch (NetworkException e) {
          // offline now: the kept file (if any) still serves
        } catch (KeyhookException e) {
          System.err.println("no license file: " + e.getMessage());
        }
      }
      System.out.println("licensed (" + status.source() + "): " + status.detail());
    } catch (KeyhookException e) {
      // e.kind(): network, server, verification, rollback, grace_expired, refused, ...
      System.err.println(e.kind() + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
