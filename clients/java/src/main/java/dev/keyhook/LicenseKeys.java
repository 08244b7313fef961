package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Keyhook license keys: 25 Crockford base32 symbols, shown in five groups of five. Input is
 * lenient: case, hyphens and white space are ignored, {@code I} and {@code L} read as 1, {@code
 * O} as 0.
 */
public final class LicenseKeys {
  private static final String CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

  private LicenseKeys() {}

  /** Unicode White_Space (what Rust's {@code char::is_whitespace} and Go's {@code unicode.IsSpace} take). */
  static boolean isWhiteSpace(int c) {
    return (c >= 0x09 && c <= 0x0d)
        || c == 0x20
        || c == 0x85
        || c == 0xa0
        || c == 0x1680
        || (c >= 0x2000 && c <= 0x200a)
        || c == 0x2028
        || c == 0x2029
        || c == 0x202f
        || c == 0x205f
        || c == 0x3000;
  }

  /** The canonical form of a Keyhook key (25 uppercase symbols), or null for text that is not one. */
  public static String canonical(String input) {
    StringBuilder out = new StringBuilder(25);
    int[] points = input.codePoints().toArray();
    for (int c : points) {
      if (c == '-' || isWhiteSpace(c)) {
        continue;
      }
      if (c >= 'a' && c <= 'z') {
        c -= 'a' - 'A';
      }
      if (c == 'I' || c == 'L') {
        c = '1';
      } else if (c == 'O') {
        c = '0';
      } else if (c == 'U' || !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
        return null;
      }
      out.append((char) c);
    }
    return out.length() == 25 ? out.toString() : null;
  }

  /**
   * The license id a Keyhook key names: {@code lic_} + lowercase Crockford base32 of the first
   * 16 bytes of SHA-256 of the canonical key; null when the text is not a Keyhook key.
   */
  public static String licenseId(String input) {
    String key = canonical(input);
    if (key == null) {
      return null;
    }
    byte[] hash = Hashes.sha256(key.getBytes(StandardCharsets.US_ASCII));
    StringBuilder out = new StringBuilder("lic_");
    int buffer = 0;
    int bits = 0;
    for (int i = 0; i < 16; i++) {
      buffer = (buffer << 8) | (hash[i] & 0xff);
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        out.append(CROCKFORD.charAt((buffer >> bits) & 0x1f));
      }
    }
    if (bits > 0) {
      out.append(CROCKFORD.charAt((buffer << (5 - bits)) & 0x1f));
    }
    return out.toString().toLowerCase(Locale.ROOT);
  }

  /**
   * What a license file's encryption key and the clock mark's MAC key are derived from: the
   * canonical key for Keyhook keys, else the key as given, trimmed (empty for a trial: null).
   */
  static byte[] secretBytes(String licenseKey) {
    if (licenseKey == null) {
      return new byte[0];
    }
    String key = canonical(licenseKey);
    if (key == null) {
      key = trim(licenseKey);
    }
    return key.getBytes(StandardCharsets.UTF_8);
  }

  /** The text without leading and trailing Unicode White_Space. */
  static String trim(String s) {
    int start = 0;
    int end = s.length();
    while (start < end) {
      int c = s.codePointAt(start);
      if (!isWhiteSpace(c)) {
        break;
      }
      start += Character.charCount(c);
    }
    while (end > start) {
      int c = s.codePointBefore(end);
      if (!isWhiteSpace(c)) {
        break;
      }
      end -= Character.charCount(c);
    }
    return s.substring(start, end);
  }
}
