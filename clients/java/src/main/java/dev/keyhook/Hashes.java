package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;

/** SHA-256 and the hex of it. */
final class Hashes {
  private Hashes() {}

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
    }
  }

  /** hex(SHA-256(domain 0x00 productId 0x00 id)), the device hash and device id derivations. */
  static String domainHash(String domain, String productId, String id) {
    try {
      MessageDigest h = MessageDigest.getInstance("SHA-256");
      h.update(domain.getBytes(StandardCharsets.UTF_8));
      h.update((byte) 0);
      h.update(productId.getBytes(StandardCharsets.UTF_8));
      h.update((byte) 0);
      h.update(id.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(h.digest());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
    }
  }
}
