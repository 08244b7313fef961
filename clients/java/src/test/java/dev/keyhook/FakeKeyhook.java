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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Answers the validation routes the way Keyhook does (the signed answer format, the device
 * limit, license files, floating seats, usage meters) for one license, with hooks that make it
 * misbehave: an answer about something else, signed too long ago, altered after signing, the
 * previous answer replayed.
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
  UnaryOperator<byte[]> alter; // changes the signed body (and a borrowed file's body)
  boolean replay; // answers the previous signed body instead
  private byte[] lastBody;

  /** Every request, in order: method, route (the path after /api/licenses/), JSON body. */
  record Request(String method, String route, Map<String, Object> body) {}

  final List<Request> requests = new ArrayList<>();

  /** A floating seat: its device and when it lapses. */
  static final class Seat {
    final String device;
    Instant expiresAt;

    Seat(String device, Instant expiresAt) {
      this.device = device;
      this.expiresAt = expiresAt;
    }
  }

  int maxConcurrent = 1;
  long leaseSeconds = 3; // heartbeats every second
  long maxBorrowSeconds = 86_400;
  final Map<String, Seat> leases = new LinkedHashMap<>();
  final List<String> deleted = new ArrayList<>();

  /** A usage meter of the product (period month): its limit, its count, the idempotency keys seen. */
  static final class Meter {
    final long limit;
    long used;
    final Set<String> keys = new HashSet<>();

    Meter(long limit) {
      this.limit = limit;
    }
  }

  final Map<String, Meter> meters = new LinkedHashMap<>(Map.of("exports", new Meter(5)));

  /** An HTTP error answer ({@code {"error": {code, message}}}). */
  static final class HttpError extends Exception {
    private static final long serialVersionUID = 1L;
    final int status;
    final String code;

    HttpError(int status, String code, String message) {
      super(message);
      this.status = status;
      this.code = code;
    }

    byte[] body() {
      return Json.write(Map.of("error", Map.of("code", code, "message", getMessage()))).getBytes(StandardCharsets.UTF_8);
    }
  }

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
    if (replay && lastBody != null) {
      bytes = lastBody;
    }
    lastBody = bytes;
    return alter == null ? bytes : alter.apply(bytes);
  }

  /** The requests whose route ends with {@code suffix}. */
  synchronized List<Request> requests(String suffix) {
    return requests.stream().filter(r -> r.route().endsWith(suffix)).toList();
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

  @SuppressWarnings("unchecked")
  private void serve(HttpExchange x) throws IOException {
    byte[] out;
    int code = 200;
    String method = x.getRequestMethod();
    String route = x.getRequestURI().getPath().replace("/api/licenses/", "");
    byte[] in = x.getRequestBody().readAllBytes();
    synchronized (this) {
      try {
        requests.add(new Request(method, route, in.length == 0 ? Map.of() : (Map<String, Object>) Json.parse(in)));
        if (down != 0) {
          throw new HttpError(down, "unavailable", "try later");
        } else if (method.equals("DELETE") && route.startsWith("leases/")) {
          code = release(route.substring("leases/".length()));
          out = new byte[0];
        } else if (route.equals("leases")) {
          out = lease(Members.parse("request", in));
        } else if (route.startsWith("leases/")) {
          out = leaseRoute(route.substring("leases/".length()), Members.parse("request", in));
        } else if (route.equals("usage")) {
          out = usage(Members.parse("request", in));
        } else {
          out = answer(route, Members.parse("request", in));
        }
      } catch (HttpError e) {
        code = e.status;
        out = e.body();
      } catch (Exception e) {
        code = 500;
        out = ("{\"error\":{\"code\":\"internal\",\"message\":\"" + e + "\"}}").getBytes(StandardCharsets.UTF_8);
      }
    }
    if (code == 204) {
      x.sendResponseHeaders(204, -1);
      x.close();
      return;
    }
    x.sendResponseHeaders(code, out.length);
    try (OutputStream o = x.getResponseBody()) {
      o.write(out);
    }
  }

  // --- floating seats and usage ----------------------------------------------------------------

  /** The start of an answer to {@code req}: format, placeholders, mode, product, device. */
  private Map<String, Object> head(Members req) {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("format", Answer.FORMAT);
    a.put("valid", false);
    a.put("code", "");
    a.put("detail", "");
    a.put("livemode", livemode);
    a.put("productId", req.string("productId"));
    if (req.optString("deviceId") != null) {
      a.put("deviceHash", Devices.deviceHash(req.string("productId"), req.optString("deviceId")));
    }
    return a;
  }

  /** The license found, as an answer states it. */
  private void putLicense(Map<String, Object> a, String productId) {
    String id = LicenseKeys.licenseId(KEY);
    a.put("licenseId", id);
    Map<String, Object> license = new LinkedHashMap<>();
    license.put("id", id);
    license.put("productId", productId);
    license.put("status", status);
    license.put("expiresAt", null);
    license.put("maxDevices", maxDevices);
    license.put("activeDevices", devices.size());
    a.put("license", license);
  }

  /** The end of an answer: what it says, the request's nonce, signedAt, kid; edited, signed. */
  private byte[] finish(Map<String, Object> a, Members req, String code, String detail) {
    a.put("valid", code.equals("VALID"));
    a.put("code", code);
    a.put("detail", detail);
    if (req.optString("nonce") != null) {
      a.put("nonce", req.optString("nonce"));
    }
    a.put("signedAt", Times.format(now));
    a.put("kid", kid);
    if (edit != null) {
      edit.accept(a);
    }
    return signAnswer(a);
  }

  private static boolean ours(String key) {
    return key != null && KEY.replace("-", "").equals(LicenseKeys.canonical(key));
  }

  /**
   * The license's standing (null: it stands), answered like validation: NOT_FOUND for another
   * key, the status's code for a license that is not active.
   */
  private byte[] refusal(Map<String, Object> a, Members req) {
    String key = req.optString("licenseKey");
    if (!ours(key)) {
      a.put("licenseId", LicenseKeys.licenseId(key));
      return finish(a, req, "NOT_FOUND", "No license has this key.");
    }
    putLicense(a, req.string("productId"));
    if (!status.equals("active")) {
      return finish(a, req, status.toUpperCase(java.util.Locale.ROOT), "The license is " + status + ".");
    }
    return null;
  }

  private Map<String, Object> leaseMember(String id) {
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("id", id);
    l.put("expiresAt", Times.format(leases.get(id).expiresAt));
    l.put("heartbeatSeconds", Math.max(leaseSeconds / 3, 1));
    return l;
  }

  /** POST /api/licenses/leases: the device's own live lease, extended, or a free seat. */
  private byte[] lease(Members req) {
    Map<String, Object> a = head(req);
    byte[] refused = refusal(a, req);
    if (refused != null) {
      return refused;
    }
    String device = req.string("deviceId");
    String mine = null;
    int live = 0;
    for (Map.Entry<String, Seat> e : leases.entrySet()) {
      if (e.getValue().expiresAt.isAfter(now)) {
        live++;
        if (e.getValue().device.equals(device)) {
          mine = e.getKey();
        }
      }
    }
    if (mine == null && live >= maxConcurrent) {
      a.put("seats", Map.of("inUse", live, "maxConcurrent", maxConcurrent));
      return finish(a, req, "CONCURRENCY_LIMIT_REACHED", "Every seat of this license is in use; retry when one is released.");
    }
    if (mine == null) {
      byte[] random = new byte[10];
      new SecureRandom().nextBytes(random);
      mine = "lse_" + LicenseKeys.licenseId(KEY).substring(4) + "_" + HexFormat.of().formatHex(random);
    }
    leases.put(mine, new Seat(device, now.plusSeconds(leaseSeconds)));
    a.put("lease", leaseMember(mine));
    return finish(a, req, "VALID", "The license is valid.");
  }

  /** POST /api/licenses/leases/{id}/heartbeat and /borrow. */
  private byte[] leaseRoute(String path, Members req) throws Exception {
    int slash = path.indexOf('/');
    String id = slash < 0 ? path : path.substring(0, slash);
    String action = slash < 0 ? "" : path.substring(slash + 1);
    Seat seat = leases.get(id);
    if (seat == null || !seat.device.equals(req.optString("deviceId"))) {
      throw new HttpError(404, "not_found", "no such lease");
    }
    long seconds = 0;
    if (action.equals("borrow")) {
      seconds = req.u32("seconds");
      if (seconds < 1 || seconds > maxBorrowSeconds) {
        throw new HttpError(409, "conflict", "seconds: at most " + maxBorrowSeconds);
      }
    } else if (!action.equals("heartbeat")) {
      throw new HttpError(404, "not_found", "no such route");
    }
    Map<String, Object> a = head(req);
    putLicense(a, req.string("productId"));
    if (!seat.expiresAt.isAfter(now)) {
      return finish(a, req, "LEASE_EXPIRED", "The lease has lapsed or was released; take a new one.");
    }
    if (!status.equals("active")) {
      return finish(a, req, status.toUpperCase(java.util.Locale.ROOT), "The license is " + status + ".");
    }
    if (action.equals("heartbeat")) {
      seat.expiresAt = now.plusSeconds(leaseSeconds);
      a.put("lease", leaseMember(id));
      return finish(a, req, "VALID", "The license is valid.");
    }
    seat.expiresAt = now.plusSeconds(seconds);
    Map<String, Object> res = new LinkedHashMap<>();
    res.put("file", licenseFile(seat.device, Duration.ofSeconds(seconds), false));
    res.put("expiresAt", Times.format(seat.expiresAt));
    res.put("kid", kid);
    byte[] out = Json.write(res).getBytes(StandardCharsets.UTF_8);
    return alter == null ? out : alter.apply(out);
  }

  /** DELETE /api/licenses/leases/{id}: 204, or 404 when no live lease has this id. */
  private int release(String id) throws HttpError {
    Seat seat = leases.remove(id);
    deleted.add(id);
    if (seat == null || !seat.expiresAt.isAfter(now)) {
      throw new HttpError(404, "not_found", "no live lease has this id");
    }
    return 204;
  }

  /** POST /api/licenses/usage: counts once per idempotency key, never past the limit. */
  private byte[] usage(Members req) throws HttpError {
    Map<String, Object> a = head(req);
    byte[] refused = refusal(a, req);
    if (refused != null) {
      return refused;
    }
    String name = req.string("meter");
    Meter m = meters.get(name);
    if (m == null) {
      throw new HttpError(409, "conflict", "meter: the product has no meter " + name);
    }
    long quantity = req.u53("quantity");
    String idempotencyKey = req.string("idempotencyKey");
    boolean counted = m.keys.contains(idempotencyKey);
    boolean fits = counted || m.used + quantity <= m.limit;
    if (fits && !counted) {
      m.used += quantity;
      m.keys.add(idempotencyKey);
    }
    Map<String, Object> usage = new LinkedHashMap<>();
    usage.put("meter", name);
    usage.put("period", "month");
    usage.put("used", m.used);
    usage.put("limit", m.limit);
    usage.put("remaining", m.limit - m.used);
    usage.put("resetsAt", "2026-12-01T00:00:00.000Z");
    a.put("usage", usage);
    return fits
        ? finish(a, req, "VALID", "The usage was recorded.")
        : finish(a, req, "USAGE_LIMIT_REACHED", "This license has used its limit of this meter for the period; nothing was recorded.");
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
