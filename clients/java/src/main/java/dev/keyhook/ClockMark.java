package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The clock mark ({@code keyhook-clock-mark-v1}; docs/integrate.md, "Offline: the clock mark"):
 * the highest local time observed for a slot (product, license key, device), MAC'd so that
 * editing it shows. Stored as compact JSON, members in this order:
 *
 * <pre>{"format":"keyhook-clock-mark-v1","highWater":"2026-11-25T00:00:00.000Z","mac":"&lt;64 hex&gt;"}</pre>
 *
 * <p>{@code mac} = HMAC-SHA256(K, {@code keyhook-clock-mark-v1} 0x00 productId 0x00 deviceId 0x00
 * highWater), K = HKDF-SHA256(salt empty, IKM the license key's secret bytes, info {@code
 * keyhook-clock-mark-v1}, 32 bytes).
 */
public final class ClockMark {
  public static final String FORMAT = "keyhook-clock-mark-v1";

  private ClockMark() {}

  /** Whose mark it is: {@code licenseKey} null is a device's trial. */
  public record Slot(String productId, String licenseKey, String deviceId) {}

  private static byte[] mac(Slot slot, String highWater) {
    byte[] key =
        Hkdf.sha256(null, LicenseKeys.secretBytes(slot.licenseKey()), FORMAT.getBytes(StandardCharsets.US_ASCII), 32);
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(key, "HmacSHA256"));
      for (String part : new String[] {FORMAT, slot.productId(), slot.deviceId()}) {
        m.update(part.getBytes(StandardCharsets.UTF_8));
        m.update((byte) 0);
      }
      return m.doFinal(highWater.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HMAC-SHA256 is part of every Java runtime", e);
    }
  }

  /** The text to store for {@code highWater} (milliseconds kept, finer digits dropped). */
  public static String seal(Slot slot, Instant highWater) {
    String hw = Times.format(highWater);
    return "{\"format\":\"" + FORMAT + "\",\"highWater\":\"" + hw + "\",\"mac\":\""
        + HexFormat.of().formatHex(mac(slot, hw)) + "\"}";
  }

  /**
   * The high-water time of a stored mark, if it verifies for {@code slot}.
   *
   * @throws RollbackException (MARK_ALTERED) if it does not parse, has another format, or its mac
   *     is not 64 hex digits of the HMAC above (edited, or copied from another slot or license)
   */
  public static Instant open(Slot slot, String text) {
    RollbackException altered = new RollbackException(RollbackException.Reason.MARK_ALTERED, null);
    try {
      Members m = Members.parse("clock mark", text.getBytes(StandardCharsets.UTF_8));
      String format = m.string("format");
      String highWater = m.string("highWater");
      String mac = m.string("mac");
      if (!format.equals(FORMAT) || mac.length() != 64) {
        throw altered;
      }
      byte[] tag = HexFormat.of().parseHex(mac);
      if (!MessageDigest.isEqual(tag, mac(slot, highWater))) {
        throw altered;
      }
      return Times.parse("highWater", highWater);
    } catch (VerificationException | IllegalArgumentException e) {
      throw altered;
    }
  }

  /**
   * The clock check before a kept proof is trusted offline, at local time {@code now}: {@code
   * stored} is the slot's mark (null: none), {@code hasProof} whether an offline proof (license
   * file, answer) is kept for the slot. Returns the mark to store now, {@code max(highWater,
   * now)}: the mark only moves forward.
   *
   * @throws RollbackException when the mark does not verify, the clock is behind it beyond
   *     {@code tolerance}, or it is missing while a proof is kept
   */
  public static String check(Slot slot, String stored, boolean hasProof, Instant now, Duration tolerance) {
    if (stored == null) {
      if (hasProof) {
        throw new RollbackException(RollbackException.Reason.MARK_MISSING, null);
      }
      return seal(slot, now);
    }
    Instant highWater = open(slot, stored);
    if (now.plus(tolerance).isBefore(highWater)) {
      throw new RollbackException(RollbackException.Reason.BEHIND, Times.format(highWater));
    }
    return seal(slot, now.isAfter(highWater) ? now : highWater);
  }
}
