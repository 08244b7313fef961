package dev.keyhook;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Device ids and hashes (docs/integrate.md, "Device ids and privacy").
 *
 * <p>{@link #deviceId(String)} sends {@code hex(SHA-256("keyhook-fingerprint-v1" 0x00 productId
 * 0x00 machineId))}: the machine id never leaves the machine, two products get unrelated ids.
 * Answers and license files carry only a further hash of it, {@link #deviceHash}.
 */
public final class Devices {
  private Devices() {}

  /** {@code hex(SHA-256("keyhook-device-v1" 0x00 productId 0x00 deviceId))}. */
  public static String deviceHash(String productId, String deviceId) {
    return Hashes.domainHash("keyhook-device-v1", productId, deviceId);
  }

  /** The deviceId of a machine whose OS id is {@code machineId}, for {@code productId}. */
  public static String deviceIdFrom(String productId, String machineId) {
    return Hashes.domainHash("keyhook-fingerprint-v1", productId, machineId);
  }

  /** This machine's deviceId for {@code productId} (64 hex characters). */
  public static String deviceId(String productId) {
    return deviceIdFrom(productId, machineId());
  }

  /**
   * The machine's own id, as the OS gives it: {@code /etc/machine-id} (or {@code
   * /var/lib/dbus/machine-id}) on Linux, {@code IOPlatformUUID} on macOS, {@code MachineGuid} on
   * Windows. It changes when the OS is reinstalled (a new device: deactivate the old one).
   */
  public static String machineId() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String id = null;
    if (os.contains("linux")) {
      for (String p : new String[] {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
        try {
          id = Files.readString(Path.of(p));
          break;
        } catch (IOException e) {
          // try the next one
        }
      }
      if (id == null) {
        throw new FingerprintException("device fingerprint: no /etc/machine-id", null);
      }
    } else if (os.contains("mac")) {
      for (String line : run("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").split("\n")) {
        if (line.contains("IOPlatformUUID")) {
          String[] parts = line.split("\"");
          if (parts.length > 3) {
            id = parts[3];
          }
          break;
        }
      }
    } else if (os.contains("windows")) {
      for (String line :
          run("reg", "query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid").split("\n")) {
        if (line.contains("MachineGuid")) {
          String[] fields = line.trim().split("\\s+");
          id = fields[fields.length - 1];
          break;
        }
      }
    } else {
      throw new FingerprintException(
          "device fingerprint: no machine id on this platform; pass your own deviceId", null);
    }
    id = id == null ? "" : LicenseKeys.trim(id);
    if (id.isEmpty()) {
      throw new FingerprintException("device fingerprint: the machine id is empty", null);
    }
    return id;
  }

  private static String run(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      return out;
    } catch (IOException e) {
      throw new FingerprintException("device fingerprint: " + command[0] + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new FingerprintException("device fingerprint: interrupted", e);
    }
  }
}
