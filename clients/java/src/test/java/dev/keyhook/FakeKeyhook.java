package dev.keyhook;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Answers the validation routes the way Keyhook does (the signed answer format, the device
 * limit, license files) for one license, with hooks that make it misbehave: an answer about
 * something else, signed too long ago, altered after signing.
 */
final class FakeKeyhook implements AutoCloseable {
  static final String KEY = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP";

  final HttpServer server;
  final KeyPair pair;
  final byte[] publicKey;
  final String kid;
  final String product = "42";

  Instant now;
  int maxDevices = 2;
  final List<String> devices = new ArrayList<>();
  String status = "active";
  boolean livemode = true;
  int down; // answer this HTTP status instead (503, 429)
  Consumer<Map<String, Object>> edit; // changes an answer before it is signed
  UnaryOperator<byte[]> alter; // changes the signed body

  FakeKeyhook(Instant now) throws Exception {
    this.now = now;
    pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    byte[] der = pair.getPublic().getEncoded();
    publicKey = Arrays.copyOfRange(der, der.length - 32, der.length);
    kid = KeySet.keyId(publicKey);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::serve);
    server.start();
  }

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @Override
  public void close() {
    // HttpServer.stop waits for its dispatcher thread, up to a second: let it finish alone.
    Thread stopper = new Thread(() -> server.stop(0));
    stopper.setDaemon(true);
    stopper.start();
  }

  /** The published key set; retiredAt (when not null) marks the key retired. */
  String keySet(String retiredAt) {
    Map<String, Object> k = new LinkedHashMap<>();
    k.put("kid", kid);
    k.put("alg", "Ed25519");
    k.put("publicKey", Base64.getEncoder().encodeToString(publicKey));
    k.put("status", retiredAt == null ? "active" : "retired");
    k.put("createdAt", "2026-01-01T00:00:00.000Z");
    if (retiredAt != null) {
      k.put("retiredAt", retiredAt);
    }
    return Json.write(Map.of("keys", List.of(k)));
  }

  String sign(byte[] message) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(pair.getPrivate());
      s.update(message);
      return Base64.getEncoder().encodeToString(s.sign());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  byte[] signAnswer(Map<String, Object> answer) {
    byte[] unsigned = Json.write(answer).getBytes(StandardCharsets.UTF_8);
    String body =
        new String(unsigned, 0, unsigned.length - 1, StandardCharsets.UTF_8)
            + ",\"signature\":\"" + sign(unsigned) + "\"}";
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return alter == null ? bytes : alter.apply(bytes);
  }

  /** A license file for the device, encrypted to the key when asked. */
  String licenseFile(String device, Duration ttl, boolean encrypt) throws Exception {
    Map<String, Object> license = new LinkedHashMap<>();
    license.put("status", status);
    license.put("expiresAt", null);
    license.put("maxDevices", maxDevices);
    license.put("maxIps", 0);
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("format", LicenseFile.FORMAT);
    p.put("kid", kid);
    p.put("tenantId", "ten_fake");
    p.put("licenseId", LicenseKeys.licenseId(KEY));
    p.put("productId", product);
    p.put("deviceHash", Devices.deviceHash(product, device));
    p.put("livemode", livemode);
    p.put("license", license);
    p.put("entitlements", List.of("pro"));
    p.put("issuedAt", Times.format(now));
    p.put("expiresAt", Times.format(now.plus(ttl)));
    byte[] content = Json.write(p).getBytes(StandardCharsets.UTF_8);
    String enc = "none";
    if (encrypt) {
      byte[] nonce = new byte[12];
      new SecureRandom().nextBytes(nonce);
      Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
      byte[] key = Hkdf.sha256(null, LicenseKeys.secretBytes(KEY), LicenseFile.HKDF_INFO.getBytes(StandardCharsets.US_ASCII), 32);
      gcm.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
      byte[] sealed = gcm.doFinal(content);
      content = new byte[12 + sealed.length];
      System.arraycopy(nonce, 0, content, 0, 12);
      System.arraycopy(sealed, 0, content, 12, sealed.length);
      enc = "aes-256-gcm";
    }
    String b64 = Base64.getEncoder().encodeToString(content);
    Map<String, Object> env = new LinkedHashMap<>();
    env.put("format", LicenseFile.FORMAT);
    env.put("alg", "Ed25519");
    env.put("kid", kid);
    env.put("enc", enc);
    env.put("payload", b64);
    env.put("signature", sign((LicenseFile.FORMAT + "." + enc + "." + kid + "." + b64).getBytes(StandardCharsets.UTF_8)));
    String armoured = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(Json.write(env).getBytes(StandardCharsets.UTF_8));
    return LicenseFile.BEGIN + "\n" + armoured + "\n" + LicenseFile.END + "\n";
  }

  private void serve(HttpExchange x) throws IOException {
    byte[] out;
    int code = 200;
    synchronized (this) {
      try {
        if (down != 0) {
          code = down;
          out = "{\"error\":{\"code\":\"unavailable\",\"message\":\"try later\"}}".getBytes(StandardCharsets.UTF_8);
        } else {
          out = answer(x.getRequestURI().getPath().replace("/api/licenses/", ""), Members.parse("request", x.getRequestBody().readAllBytes()));
        }
      } catch (Exception e) {
        code = 500;
        out = ("{\"error\":{\"code\":\"internal\",\"message\":\"" + e + "\"}}").getBytes(StandardCharsets.UTF_8);
      }
    }
    x.sendResponseHeaders(code, out.length);
    try (OutputStream o = x.getResponseBody()) {
      o.write(out);
    }
  }

  private byte[] answer(String route, Members req) throws Exception {
    String key = req.optString("licenseKey");
    String productId = req.string("productId");
    String device = req.optString("deviceId");
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("format", Answer.FORMAT);
    a.put("valid", false);
    a.put("code", "");
    a.put("detail", "");
    a.put("livemode", livemode);
    a.put("productId", productId);
    if (device != null) {
      a.put("deviceHash", Devices.deviceHash(productId, device));
    }
    boolean valid;
    String answerCode;
    String detail;
    if (key == null && route.equals("validate")) {
      a.put("livemode", true);
      Map<String, Object> trial = new LinkedHashMap<>();
      trial.put("productId", productId);
      trial.put("deviceHash", a.get("deviceHash"));
      trial.put("startedAt", Times.format(now));
      trial.put("expiresAt", Times.format(now.plus(Duration.ofDays(14))));
      a.put("trial", trial);
      valid = true;
      answerCode = "TRIAL";
      detail = "The trial is running.";
    } else {
      a.put("licenseId", LicenseKeys.licenseId(key));
      boolean active = devices.contains(device);
      if (!KEY.replace("-", "").equals(LicenseKeys.canonical(key))) {
        valid = false;
        answerCode = "NOT_FOUND";
        detail = "No license has this key.";
      } else if (route.equals("deactivate")) {
        devices.remove(device);
        valid = false;
        answerCode = "NOT_ACTIVATED";
        detail = "The device was deactivated.";
      } else if (!status.equals("active")) {
        valid = false;
        answerCode = status.toUpperCase(java.util.Locale.ROOT);
        detail = "The license is " + status + ".";
      } else if (active) {
        valid = true;
        answerCode = "VALID";
        detail = "The license is valid.";
      } else if (route.equals("validate")) {
        valid = false;
        answerCode = "NOT_ACTIVATED";
        detail = "The device is not activated.";
      } else if (devices.size() >= maxDevices) {
        valid = false;
        answerCode = "DEVICE_LIMIT_REACHED";
        detail = "Every seat is taken.";
      } else {
        devices.add(device);
        valid = true;
        answerCode = "VALID";
        detail = "The device was activated.";
      }
      if (!answerCode.equals("NOT_FOUND")) {
        Map<String, Object> license = new LinkedHashMap<>();
        license.put("id", a.get("licenseId"));
        license.put("productId", productId);
        license.put("status", status);
        license.put("expiresAt", null);
        license.put("maxDevices", maxDevices);
        license.put("activeDevices", devices.size());
        a.put("license", license);
      }
    }
    a.put("valid", valid);
    a.put("code", answerCode);
    a.put("detail", detail);
    String nonce = req.optString("nonce");
    if (nonce != null) {
      a.put("nonce", nonce);
    }
    a.put("signedAt", Times.format(now));
    a.put("kid", kid);
    if (edit != null) {
      edit.accept(a);
    }
    if (route.equals("checkout") && (Boolean) a.get("valid")) {
      Duration ttl = ttlOf(req, Duration.ofDays(7));
      Map<String, Object> res = new LinkedHashMap<>();
      res.put("file", licenseFile(device, ttl, encryptOf(req)));
      res.put("expiresAt", Times.format(now.plus(ttl)));
      res.put("kid", kid);
      return Json.write(res).getBytes(StandardCharsets.UTF_8);
    }
    return signAnswer(a);
  }

  private static Duration ttlOf(Members req, Duration otherwise) {
    try {
      return Duration.ofSeconds(req.u32("ttl"));
    } catch (VerificationException e) {
      return otherwise;
    }
  }

  private static boolean encryptOf(Members req) {
    try {
      return req.bool("encrypt");
    } catch (VerificationException e) {
      return false;
    }
  }
}
