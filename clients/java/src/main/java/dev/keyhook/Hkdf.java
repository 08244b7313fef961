package dev.keyhook;

import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF (RFC 5869) with HMAC-SHA256: extract with the salt (32 zero bytes when empty), then
 * expand to {@code length} bytes with {@code info}. Java 17's standard library has no HKDF;
 * this is the whole algorithm, checked against RFC 5869's test vectors (HkdfTest).
 */
final class Hkdf {
  private Hkdf() {}

  static byte[] sha256(byte[] salt, byte[] ikm, byte[] info, int length) {
    if (length < 0 || length > 255 * 32) {
      throw new IllegalArgumentException("HKDF: invalid output length " + length);
    }
    try {
      Mac extract = Mac.getInstance("HmacSHA256");
      extract.init(new SecretKeySpec(salt == null || salt.length == 0 ? new byte[32] : salt, "HmacSHA256"));
      byte[] prk = extract.doFinal(ikm);
      Mac expand = Mac.getInstance("HmacSHA256");
      expand.init(new SecretKeySpec(prk, "HmacSHA256"));
      byte[] out = new byte[length];
      byte[] block = new byte[0];
      for (int done = 0, counter = 1; done < length; counter++) {
        expand.update(block);
        expand.update(info);
        expand.update((byte) counter);
        block = expand.doFinal();
        int n = Math.min(block.length, length - done);
        System.arraycopy(block, 0, out, done, n);
        done += n;
      }
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HMAC-SHA256 is part of every Java 17 runtime", e);
    }
  }
}
