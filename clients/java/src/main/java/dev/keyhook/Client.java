package dev.keyhook;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Keyhook client for one product: validate, activate, deactivate, trials, license files and
 * the offline fallback, floating seats ({@link #lease}) and usage limits ({@link #recordUsage}),
 * every answer and file verified before it is returned. Safe for concurrent use. Every method
 * throws only unchecked {@link KeyhookException}s.
 *
 * <pre>{@code
 * Client client = new Client(Config.of("https://keyhook.example.com", "42", keysJson)
 *     .cacheDir(appDir.resolve("license")));
 * String device = Devices.deviceId("42");
 * Status status = client.validate(key, device);
 * }</pre>
 */
public final class Client {
  /** This client's version (sent in the User-Agent). */
  public static final String VERSION = "0.1.0";

  private static final int MAX_BODY = 1 << 20;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Config config;
  private final HttpClient http;
  private final Cache cache;

  /** A client with a copy of {@code config}. */
  public Client(Config config) {
    this.config = config.copy();
    this.http =
        config.httpClient() != null
            ? config.httpClient()
            : HttpClient.newBuilder().connectTimeout(config.timeout()).build();
    this.cache = new Cache(config.cacheDir());
  }

  /** The client's settings (a copy). */
  public Config config() {
    return config.copy();
  }

  /** A fresh random nonce (128 bits, hex). */
  public static String newNonce() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private String slot(String key, String deviceId) {
    return Cache.slot(config.productId(), key, deviceId);
  }

  private ClockMark.Slot markSlot(String key, String deviceId) {
    return new ClockMark.Slot(config.productId(), key, deviceId);
  }

  Instant now() {
    return config.clock().instant();
  }

  /**
   * The clock check before anything kept is trusted offline: the slot's clock mark must verify
   * and the clock must not be behind it (beyond the clock skew); a missing mark is refused when a
   * proof is kept. Advances the mark to now; returns now.
   */
  private Instant observeClock(String key, String deviceId) {
    Instant now = now();
    String slot = slot(key, deviceId);
    cache.putMark(
        slot, ClockMark.check(markSlot(key, deviceId), cache.mark(slot), cache.hasProof(slot), now, config.clockSkew()));
    return now;
  }

  private record Response(int status, byte[] body) {}

  private Response post(String path, Map<String, Object> body) {
    return send("POST", path, body);
  }

  /** One request: {@code body} (null: none) as JSON. */
  private Response send(String method, String path, Map<String, Object> body) {
    HttpRequest request;
    try {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(config.baseUrl() + path))
              .timeout(config.timeout())
              .header("User-Agent", "keyhook-client-java/" + VERSION);
      if (body != null) {
        b.header("Content-Type", "application/json");
      }
      request =
          b.method(
                  method,
                  body == null
                      ? HttpRequest.BodyPublishers.noBody()
                      : HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8))
              .build();
    } catch (IllegalArgumentException e) {
      throw new ConfigException("configuration: base URL: " + e.getMessage(), e);
    }
    try {
      HttpResponse<InputStream> res = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = res.body()) {
        return new Response(res.statusCode(), in.readNBytes(MAX_BODY));
      }
    } catch (IOException e) {
      throw new NetworkException(e.toString(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new NetworkException("interrupted", e);
    }
  }

  private static ServerException serverError(Response r) {
    String code = "unknown";
    String message = "no message";
    try {
      Members error = Members.parse("error", r.body()).optObject("error");
      if (error != null) {
        code = error.optString("code") != null ? error.optString("code") : code;
        message = error.optString("message") != null ? error.optString("message") : message;
      }
    } catch (VerificationException e) {
      // Not Keyhook's error body: the status says enough.
    }
    return new ServerException(r.status(), code, message);
  }

  private Map<String, Object> requestBody(String key, String deviceId, String nonce) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("productId", config.productId());
    body.put("nonce", nonce);
    body.put("environment", config.environment().wire());
    if (key != null) {
      body.put("licenseKey", key);
    }
    if (deviceId != null) {
      body.put("deviceId", deviceId);
    }
    return body;
  }

  /**
   * Verifies an answer to the request ({@code key}, {@code deviceId}, {@code nonce}; null for
   * none): signature (by a key of the set, not retired before {@code signedAt}), format,
   * product, device, license, nonce, the build's mode, then freshness. A fresh answer proves the
   * clock, so the slot's clock mark restarts at now. For apps that send requests through their
   * own HTTP stack (with a {@link #newNonce()} nonce): pass the raw response body.
   *
   * @throws VerificationException when it is not trusted
   */
  public Answer verifyAnswer(byte[] body, String key, String deviceId, String nonce) {
    Answer a = Answer.verify(config.keys(), body, new Answer.Expected(config.productId(), deviceId, nonce, key));
    a.checkLivemode(config.acceptsTestLicenses());
    Instant now = now();
    a.checkFresh(now, config.maxAnswerAge(), config.clockSkew());
    // An answer about no device (a usage record without one) proves the clock of the key's slot.
    String device = deviceId == null ? "" : deviceId;
    cache.putMark(slot(key, device), ClockMark.seal(markSlot(key, device), now));
    return a;
  }

  private record Called(Answer answer, Cache.Kept kept) {}

  private Called call(String path, String key, String deviceId, Map<String, Object> extra) {
    String nonce = newNonce();
    Map<String, Object> body = requestBody(key, deviceId, nonce);
    body.putAll(extra);
    Response res = post(path, body);
    if (res.status() != 200) {
      throw serverError(res);
    }
    Answer a = verifyAnswer(res.body(), key, deviceId, nonce);
    return new Called(a, new Cache.Kept(new String(res.body(), StandardCharsets.UTF_8), nonce));
  }

  /** Keeps a good answer, or forgets the proofs of a license Keyhook just called invalid. */
  private void remember(String slot, Called c) {
    if (c.answer().valid()) {
      cache.putAnswer(slot, c.kept());
    } else {
      cache.forget(slot);
    }
  }

  /**
   * {@code POST /api/licenses/validate}: the key's standing for this product on {@code deviceId}
   * ({@code key} null: the device's trial). When Keyhook cannot be reached (a network error or a
   * 5xx), falls back to {@link #checkOffline}; with nothing kept, the network (or server) error
   * is thrown.
   */
  public Status validate(String key, String deviceId) {
    Called c;
    try {
      c = call("/api/licenses/validate", key, deviceId, Map.of());
    } catch (NetworkException | ServerException e) {
      if (e instanceof ServerException && ((ServerException) e).status() < 500) {
        throw e;
      }
      try {
        return checkOffline(key, deviceId);
      } catch (NoOfflineProofException none) {
        throw e;
      }
    }
    remember(slot(key, deviceId), c);
    return Status.of(c.answer(), Source.ONLINE);
  }

  /** {@code POST /api/licenses/activate}; {@code deviceName} may be null. */
  public Status activate(String key, String deviceId, String deviceName) {
    Map<String, Object> extra = new LinkedHashMap<>();
    if (deviceName != null) {
      extra.put("deviceName", deviceName);
    }
    Called c = call("/api/licenses/activate", key, deviceId, extra);
    remember(slot(key, deviceId), c);
    return Status.of(c.answer(), Source.ONLINE);
  }

  /** {@code POST /api/licenses/deactivate}: frees the seat and forgets the device's offline proofs. */
  public Status deactivate(String key, String deviceId) {
    Called c = call("/api/licenses/deactivate", key, deviceId, Map.of());
    cache.forget(slot(key, deviceId));
    return Status.of(c.answer(), Source.ONLINE);
  }

  /** A checked-out license file: its text (to keep or hand on) and its verified payload. */
  public record CheckedOut(String text, FilePayload payload) {}

  /**
   * {@code POST /api/licenses/checkout}: activates {@code deviceId} and returns its verified
   * license file, also kept for {@link #checkOffline}. {@code ttl}: the file's lifetime (null:
   * the product's default); {@code encrypt}: encrypted to the license key.
   *
   * @throws RefusedException with the signed answer's code ({@code DEVICE_LIMIT_REACHED}, ...)
   */
  public CheckedOut checkoutFile(String key, String deviceId, Duration ttl, boolean encrypt) {
    String nonce = newNonce();
    Map<String, Object> body = requestBody(key, deviceId, nonce);
    if (ttl != null) {
      body.put("ttl", ttl.getSeconds());
    }
    body.put("encrypt", encrypt);
    return fileAnswer("checkout", post("/api/licenses/checkout", body), key, deviceId, nonce);
  }

  /**
   * A route's {@code {file}} answer (checkout, borrow): the verified file, or the refusal's
   * verified signed answer thrown as a {@link RefusedException}.
   */
  private CheckedOut fileAnswer(String what, Response res, String key, String deviceId, String nonce) {
    if (res.status() != 200) {
      throw serverError(res);
    }
    String text = Members.parse(what, res.body()).optString("file");
    if (text == null) {
      // Refused: the signed answer says why.
      Answer a = verifyAnswer(res.body(), key, deviceId, nonce);
      if (!a.valid()) {
        cache.forget(slot(key, deviceId));
      }
      throw new RefusedException(a.code(), a.detail());
    }
    // A file carries no nonce, so it proves nothing about the clock: checked against the mark
    // like any file (after a rollback, validate online first).
    return new CheckedOut(text, verifyFile(text, key, deviceId));
  }

  // --- floating seats (leases) ---------------------------------------------------------------

  /** {@link #lease(String, String, String)} without a device name. */
  public Lease lease(String key, String deviceId) {
    return lease(key, deviceId, null);
  }

  /**
   * {@code POST /api/licenses/leases}: takes a floating seat for {@code deviceId} (or gets the
   * device's own lease back, extended) and heartbeats it from a daemon thread every {@code
   * heartbeatSeconds}, each answer verified like {@link #validate}'s. Close the lease (it is
   * {@link AutoCloseable}) or {@link Lease#release()} it to give the seat back; a seat lost on
   * the way is reported to {@link Lease#addLossListener} listeners. {@code deviceName} may be
   * null.
   *
   * <pre>{@code
   * try (Lease seat = client.lease(key, device)) {
   *   seat.addLossListener((lease, loss) -> stopProFeatures(loss.code()));
   *   runTheApp();
   * }
   * }</pre>
   *
   * @throws ConcurrencyLimitException when every seat is in use ({@code CONCURRENCY_LIMIT_REACHED})
   * @throws RefusedException with the signed code for any other refusal ({@code REVOKED}, {@code
   *     NOT_FOUND}, ...)
   */
  public Lease lease(String key, String deviceId, String deviceName) {
    Map<String, Object> extra = new LinkedHashMap<>();
    if (deviceName != null) {
      extra.put("deviceName", deviceName);
    }
    Answer a = call("/api/licenses/leases", key, deviceId, extra).answer();
    if (!a.valid()) {
      if (a.code().equals(ConcurrencyLimitException.CODE) && a.seats() != null) {
        throw new ConcurrencyLimitException(a.seats().inUse(), a.seats().maxConcurrent());
      }
      throw new RefusedException(a.code(), a.detail());
    }
    if (a.lease() == null) {
      throw Members.malformed("a lease answer without its lease");
    }
    return Lease.start(this, key, deviceId, a);
  }

  private Map<String, Object> leaseBody(String deviceId, String nonce) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("productId", config.productId());
    body.put("deviceId", deviceId);
    body.put("nonce", nonce);
    body.put("environment", config.environment().wire());
    return body;
  }

  private static String leasePath(String leaseId) {
    return "/api/licenses/leases/" + URLEncoder.encode(leaseId, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** {@code POST /api/licenses/leases/{id}/heartbeat}, verified as an answer about {@code key}'s license. */
  Answer heartbeat(String key, String leaseId, String deviceId) {
    String nonce = newNonce();
    Response res = post(leasePath(leaseId) + "/heartbeat", leaseBody(deviceId, nonce));
    if (res.status() != 200) {
      throw serverError(res);
    }
    return verifyAnswer(res.body(), key, deviceId, nonce);
  }

  /** {@code DELETE /api/licenses/leases/{id}}: false when the lease was no longer live. */
  boolean releaseLease(String leaseId) {
    Response res = send("DELETE", leasePath(leaseId), null);
    if (res.status() == 204) {
      return true;
    }
    if (res.status() == 404) {
      return false;
    }
    throw serverError(res);
  }

  /**
   * {@code POST /api/licenses/leases/{id}/borrow}: the seat as a verified license file valid for
   * {@code duration} (whole seconds, at most the license's {@code maxBorrowSeconds}), for
   * offline use, also kept for {@link #checkOffline}; the seat stays taken until it ends,
   * heartbeats or not. The same as {@link Lease#borrow}.
   *
   * @throws RefusedException with the signed code when refused ({@code LEASE_EXPIRED}, {@code
   *     REVOKED}, ...)
   * @throws ServerException 409 beyond {@code maxBorrowSeconds}
   */
  public CheckedOut borrow(Lease lease, Duration duration) {
    String nonce = newNonce();
    Map<String, Object> body = leaseBody(lease.deviceId(), nonce);
    body.put("seconds", duration.getSeconds());
    Response res = post(leasePath(lease.id()) + "/borrow", body);
    return fileAnswer("borrow", res, lease.key(), lease.deviceId(), nonce);
  }

  // --- usage limits ----------------------------------------------------------------------------

  /**
   * {@link #recordUsage(String, String, long, String, String)} with a fresh idempotency key (so
   * each call counts) and no device.
   */
  public Answer.Usage recordUsage(String key, String meter, long quantity) {
    return recordUsage(key, meter, quantity, null, null);
  }

  /**
   * {@code POST /api/licenses/usage}: records {@code quantity} on the product's {@code meter}
   * (from {@code deviceId}, if not null) and returns the verified usage ({@code meter}, {@code
   * period}, {@code used}, {@code limit}, {@code remaining}, {@code resetsAt}).
   *
   * <p>Keyhook counts a record once per {@code idempotencyKey}. Null: a fresh key is made, so
   * each call counts; to make your retries safe, make the key once per unit of work and pass the
   * same key again when you retry it.
   *
   * @throws UsageLimitException when the quantity does not fit what remains (nothing recorded)
   * @throws RefusedException with the signed code for any other refusal ({@code REVOKED}, {@code
   *     NOT_FOUND}, ...)
   * @throws ServerException 409 for a meter the product does not define
   */
  public Answer.Usage recordUsage(String key, String meter, long quantity, String idempotencyKey, String deviceId) {
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("meter", meter);
    extra.put("quantity", quantity);
    extra.put("idempotencyKey", idempotencyKey != null ? idempotencyKey : newNonce());
    Answer a = call("/api/licenses/usage", key, deviceId, extra).answer();
    Answer.Usage usage = a.usage();
    if (a.valid()) {
      if (usage == null) {
        throw Members.malformed("a usage answer without its usage");
      }
      return usage;
    }
    if (a.code().equals(UsageLimitException.CODE) && usage != null) {
      throw new UsageLimitException(usage.meter(), usage.used(), usage.limit(), usage.remaining());
    }
    throw new RefusedException(a.code(), a.detail());
  }

  /**
   * Verifies a license file offline, after the clock check (the slot's clock mark): signature
   * (by a key of the set, not retired before {@code issuedAt}), lifetime, product, device, issue
   * and expiry times, the build's mode. {@code key} decrypts encrypted files. The file is kept for
   * {@link #checkOffline} unless a file issued later is kept already.
   */
  public FilePayload verifyFile(String text, String key, String deviceId) {
    Instant now = observeClock(key, deviceId);
    FilePayload p = checkFile(text, key, deviceId, now);
    String slot = slot(key, deviceId);
    String kept = cache.file(slot);
    if (kept != null) {
      try {
        FilePayload k = LicenseFile.verify(config.keys(), kept, key);
        if (Times.parse("issuedAt", k.issuedAt()).isAfter(Times.parse("issuedAt", p.issuedAt()))) {
          return p;
        }
      } catch (VerificationException e) {
        // The kept file is no good: replace it.
      }
    }
    cache.putFile(slot, text);
    return p;
  }

  private FilePayload checkFile(String text, String key, String deviceId, Instant now) {
    FilePayload p = LicenseFile.verify(config.keys(), text, key);
    p.check(config.productId(), deviceId, now, config.clockSkew());
    p.checkLivemode(config.acceptsTestLicenses());
    return p;
  }

  /**
   * The standing without Keyhook: after the clock check (the slot's clock mark), the kept
   * license file if it is still valid, else the last good answer if it is within the grace
   * period. Both are verified again.
   *
   * @throws NoOfflineProofException when nothing is kept for this license and device
   */
  public Status checkOffline(String key, String deviceId) {
    String slot = slot(key, deviceId);
    if (!cache.hasProof(slot)) {
      throw new NoOfflineProofException("no offline proof: nothing kept for this license and device", null);
    }
    Instant now = observeClock(key, deviceId);
    KeyhookException fileError = null;
    String text = cache.file(slot);
    if (text != null) {
      try {
        return Status.of(checkFile(text, key, deviceId, now));
      } catch (VerificationException e) {
        fileError = e;
      }
    }
    Cache.Kept kept = cache.answer(slot);
    if (kept == null) {
      if (fileError != null) {
        throw fileError;
      }
      throw new NoOfflineProofException("no offline proof: nothing kept for this license and device", null);
    }
    Answer a =
        Answer.verify(
            config.keys(),
            kept.body().getBytes(StandardCharsets.UTF_8),
            new Answer.Expected(config.productId(), deviceId, kept.nonce(), key));
    a.checkLivemode(config.acceptsTestLicenses());
    Instant signedAt = a.signedAtInstant();
    if (signedAt.isAfter(now.plus(config.clockSkew()))) {
      throw new RollbackException(RollbackException.Reason.BEHIND, a.signedAt());
    }
    if (signedAt.plus(config.grace()).isBefore(now)) {
      throw new GraceExpiredException(a.signedAt());
    }
    // What the answer said ends on its own: a trial, a license's expiry.
    for (String end :
        new String[] {
          a.trial() == null ? null : a.trial().expiresAt(), a.license() == null ? null : a.license().expiresAt()
        }) {
      if (end != null && !Times.parse("expiresAt", end).isAfter(now)) {
        throw new VerificationException(VerificationException.EXPIRED, "it expired at " + end);
      }
    }
    return Status.of(a, Source.CACHED_ANSWER);
  }
}
