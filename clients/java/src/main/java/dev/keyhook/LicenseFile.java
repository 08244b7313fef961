package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * License files ({@code keyhook-license-file-v1}): an armoured envelope {@code
 * {"format","alg":"Ed25519","kid","enc","payload","signature"}} whose signature covers {@code
 * keyhook-license-file-v1.<enc>.<kid>.<payload>} (the base64 text as it stands), so it is checked
 * before anything is decrypted or parsed. Encrypted files ({@code aes-256-gcm}) carry {@code nonce
 * (12 bytes) || ciphertext || tag} under HKDF-SHA256(salt empty, IKM the license key's secret
 * bytes, info {@code keyhook-license-file-v1/aes-256-gcm}, 32 bytes).
 */
public final class LicenseFile {
  public static final String FORMAT = "keyhook-license-file-v1";
  static final String BEGIN = "-----BEGIN KEYHOOK LICENSE FILE-----";
  static final String END = "-----END KEYHOOK LICENSE FILE-----";
  static final String HKDF_INFO = "keyhook-license-file-v1/aes-256-gcm";

  /**
   * The longest life of a license file (expiresAt - issuedAt): a file claiming more is refused,
   * so a key leaked before its retirement cannot sign a back-dated file that outlives it.
   */
  public static final Duration MAX_LIFETIME = Duration.ofDays(366);

  private LicenseFile() {}

  /**
   * Checks a license file's signature against {@code keys} and returns its payload, decrypted
   * with {@code licenseKey} when the file is encrypted (null: no key). Also refuses a file signed
   * by a key after its retirement and a file that claims to live longer than {@link
   * #MAX_LIFETIME}. The caller then checks what it is about ({@link FilePayload#check}, {@link
   * FilePayload#checkLivemode}); the {@link Client} does all of it, after the clock check.
   *
   * @throws VerificationException when it is not trusted
   */
  public static FilePayload verify(KeySet keys, String text, String licenseKey) {
    String trimmed = LicenseKeys.trim(text);
    if (!trimmed.startsWith(BEGIN) || !trimmed.endsWith(END) || trimmed.length() < BEGIN.length() + END.length()) {
      throw Members.malformed("not a Keyhook license file");
    }
    StringBuilder inner = new StringBuilder();
    trimmed
        .substring(BEGIN.length(), trimmed.length() - END.length())
        .codePoints()
        .filter(c -> !LicenseKeys.isWhiteSpace(c))
        .forEach(inner::appendCodePoint);
    byte[] raw = KeySet.decodeBase64(inner.toString());
    if (raw == null) {
      throw Members.malformed("license file: bad base64");
    }
    Members env = Members.parse("license file", raw);
    String format = env.string("format");
    String alg = env.string("alg");
    String kid = env.string("kid");
    String enc = env.string("enc");
    String payload = env.string("payload");
    String signature = env.string("signature");
    if (!format.equals(FORMAT)) {
      throw new VerificationException(VerificationException.UNSUPPORTED_FORMAT, "unsupported format \"" + format + "\"");
    }
    if (!alg.equals("Ed25519")) {
      throw Members.malformed("license file: algorithm " + alg);
    }
    keys.verify(kid, (FORMAT + "." + enc + "." + kid + "." + payload).getBytes(StandardCharsets.UTF_8), signature);
    byte[] sealed = KeySet.decodeBase64(payload);
    if (sealed == null) {
      throw Members.malformed("license file: bad payload base64");
    }
    byte[] plain;
    switch (enc) {
      case "none":
        plain = sealed;
        break;
      case "aes-256-gcm":
        if (licenseKey == null) {
          throw new VerificationException(
              VerificationException.KEY_REQUIRED, "the file is encrypted: the license key is needed to read it");
        }
        plain = decrypt(sealed, licenseKey);
        break;
      default:
        throw Members.malformed("license file: encryption " + enc);
    }
    FilePayload p = FilePayload.read(Members.parse("license file payload", plain));
    if (!p.format().equals(FORMAT)) {
      throw new VerificationException(VerificationException.UNSUPPORTED_FORMAT, "unsupported format \"" + p.format() + "\"");
    }
    if (!p.kid().equals(kid)) {
      throw Members.malformed("license file: payload and envelope name different keys");
    }
    keys.checkSignedInService(p.kid(), p.issuedAt());
    Instant issued = Times.parse("issuedAt", p.issuedAt());
    Instant expires = Times.parse("expiresAt", p.expiresAt());
    if (Duration.between(issued, expires).compareTo(MAX_LIFETIME) > 0) {
      throw new VerificationException(
          VerificationException.LIFETIME_TOO_LONG,
          "the file claims to live from " + p.issuedAt() + " to " + p.expiresAt() + ", longer than 366 days");
    }
    return p;
  }

  private static byte[] decrypt(byte[] sealed, String licenseKey) {
    VerificationException failed =
        new VerificationException(VerificationException.DECRYPT, "the file does not decrypt with this license key");
    if (sealed.length < 12 + 16) {
      throw failed;
    }
    byte[] key = Hkdf.sha256(null, LicenseKeys.secretBytes(licenseKey), HKDF_INFO.getBytes(StandardCharsets.US_ASCII), 32);
    try {
      Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
      gcm.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, sealed, 0, 12));
      return gcm.doFinal(sealed, 12, sealed.length - 12);
    } catch (AEADBadTagException e) {
      throw failed;
    } catch (GeneralSecurityException e) {
      throw failed;
    } finally {
      Arrays.fill(key, (byte) 0);
    }
  }
}
