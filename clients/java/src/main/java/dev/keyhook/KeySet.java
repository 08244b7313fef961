package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * The tenant's Ed25519 verification keys by key id ({@code kid = hex(SHA-256(raw key))[..16]}),
 * and when a retired key stopped signing. Read it from the body of {@code GET
 * /api/tenants/{tenantId}/signing-keys} ({@link #parse}), embedded in the app.
 *
 * <p>A retired key's signature is trusted only on what it says it signed no later than its
 * {@code retiredAt} + {@link #RETIREMENT_TOLERANCE}.
 */
public final class KeySet {
  /** How long after its retiredAt a key's signatures are still trusted. */
  public static final Duration RETIREMENT_TOLERANCE = Duration.ofMinutes(10);

  // The DER prefix of an Ed25519 SubjectPublicKeyInfo: the raw key follows.
  private static final byte[] X509_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");

  private final List<Known> keys = new ArrayList<>();

  private static final class Known {
    final String kid;
    final PublicKey key;
    Instant retiredAt;

    Known(String kid, PublicKey key) {
      this.kid = kid;
      this.key = key;
    }
  }

  /** An empty set. */
  public KeySet() {}

  /** The kid of a raw 32-byte Ed25519 public key. */
  public static String keyId(byte[] publicKey) {
    return HexFormat.of().formatHex(Hashes.sha256(publicKey), 0, 8);
  }

  /**
   * Strict standard base64 (padded, no line breaks, no stray bits): the text must be exactly
   * what encoding its bytes gives; null otherwise.
   */
  static byte[] decodeBase64(String s) {
    try {
      byte[] b = Base64.getDecoder().decode(s);
      return Base64.getEncoder().encodeToString(b).equals(s) ? b : null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * The set published at {@code GET /api/tenants/{tenantId}/signing-keys}. Keys of other
   * algorithms are skipped; a key whose kid is not the one its public key derives is refused.
   */
  public static KeySet parse(String json) {
    Members published = Members.parse("key set", json.getBytes(StandardCharsets.UTF_8));
    KeySet set = new KeySet();
    for (Members k : published.objects("keys")) {
      String kid = k.string("kid");
      String alg = k.string("alg");
      String publicKey = k.string("publicKey");
      if (!alg.equals("Ed25519")) {
        continue;
      }
      String derived = set.add(publicKey);
      if (!derived.equals(kid)) {
        throw Members.malformed("key set: kid " + kid + " does not match its public key");
      }
      String retiredAt = k.optString("retiredAt");
      if (retiredAt != null) {
        set.retire(kid, Times.parse("key set: retiredAt", retiredAt));
      }
    }
    return set;
  }

  /** Adds a base64 Ed25519 public key; returns its kid. */
  public String add(String publicKeyBase64) {
    byte[] raw = decodeBase64(LicenseKeys.trim(publicKeyBase64));
    if (raw == null || raw.length != 32) {
      throw new VerificationException(
          VerificationException.BAD_PUBLIC_KEY, "the public key is not a base64 Ed25519 key");
    }
    String kid = keyId(raw);
    if (find(kid) == null) {
      byte[] der = new byte[X509_PREFIX.length + 32];
      System.arraycopy(X509_PREFIX, 0, der, 0, X509_PREFIX.length);
      System.arraycopy(raw, 0, der, X509_PREFIX.length, 32);
      try {
        keys.add(new Known(kid, KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der))));
      } catch (GeneralSecurityException e) {
        throw new VerificationException(
            VerificationException.BAD_PUBLIC_KEY, "the public key is not a base64 Ed25519 key");
      }
    }
    return kid;
  }

  /** Records that the key {@code kid} stopped signing at {@code retiredAt}. */
  public void retire(String kid, Instant retiredAt) {
    Known k = find(kid);
    if (k != null) {
      k.retiredAt = retiredAt;
    }
  }

  /** The key ids in the set. */
  public List<String> kids() {
    List<String> out = new ArrayList<>();
    for (Known k : keys) {
      out.add(k.kid);
    }
    return out;
  }

  public int size() {
    return keys.size();
  }

  private Known find(String kid) {
    for (Known k : keys) {
      if (k.kid.equals(kid)) {
        return k;
      }
    }
    return null;
  }

  /** Checks a base64 Ed25519 signature over {@code message} with the key {@code kid}. */
  void verify(String kid, byte[] message, String signatureBase64) {
    Known k = find(kid);
    if (k == null) {
      throw new VerificationException(
          VerificationException.UNKNOWN_KEY, "signed by key \"" + kid + "\", which is not in the key set");
    }
    byte[] signature = decodeBase64(signatureBase64);
    boolean ok = false;
    if (signature != null && signature.length == 64) {
      try {
        Signature v = Signature.getInstance("Ed25519");
        v.initVerify(k.key);
        v.update(message);
        ok = v.verify(signature);
      } catch (GeneralSecurityException e) {
        ok = false;
      }
    }
    if (!ok) {
      throw new VerificationException(VerificationException.BAD_SIGNATURE, "the signature does not match");
    }
  }

  /** The key {@code kid} was not retired (beyond the tolerance) when the document says it was signed. */
  void checkSignedInService(String kid, String signedAt) {
    Known k = find(kid);
    if (k == null || k.retiredAt == null) {
      return;
    }
    if (Times.parse("signedAt", signedAt).isAfter(k.retiredAt.plus(RETIREMENT_TOLERANCE))) {
      throw new VerificationException(
          VerificationException.RETIRED_KEY,
          "signed by key \"" + kid + "\" at " + signedAt + ", after the key was retired at " + Times.format(k.retiredAt));
    }
  }
}
