package dev.keyhook;

import java.util.Arrays;
import java.util.HexFormat;

/** HKDF-SHA256 against RFC 5869, appendix A, test cases 1 to 3. */
public final class HkdfTest {
  private static byte[] span(int from, int to) {
    byte[] b = new byte[to - from];
    for (int i = from; i < to; i++) {
      b[i - from] = (byte) i;
    }
    return b;
  }

  private static byte[] repeat(int value, int n) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return b;
  }

  private static void expect(byte[] salt, byte[] ikm, byte[] info, int length, String okm) {
    Check.equal(HexFormat.of().formatHex(Hkdf.sha256(salt, ikm, info, length)), okm, "okm");
  }

  @Test
  void basic() {
    expect(span(0x00, 0x0d), repeat(0x0b, 22), span(0xf0, 0xfa), 42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  }

  @Test
  void longerInputsAndOutputs() {
    expect(span(0x60, 0xb0), span(0x00, 0x50), span(0xb0, 0x100), 82,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            + "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            + "cc30c58179ec3e87c14c01d5c1f3434f1d87");
  }

  @Test
  void zeroLengthSaltAndInfo() {
    expect(new byte[0], repeat(0x0b, 22), new byte[0], 42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  }
}
