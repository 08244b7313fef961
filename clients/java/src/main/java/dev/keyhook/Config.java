package dev.keyhook;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * What the merchant decides: where Keyhook is, which product, which keys to trust, how long the
 * app may run offline. {@link #of} gives the defaults; the setters return the config, so they
 * chain ({@code Config.of(url, "42", keys).cacheDir(dir).grace(Duration.ofDays(14))}, or
 * Kotlin's {@code apply}). The {@link Client} takes a copy.
 */
public final class Config {
  private String baseUrl;
  private String productId;
  private KeySet keys;
  private Environment environment = Environment.LIVE;
  private boolean acceptTestLicenses;
  private Duration maxAnswerAge = Duration.ofMinutes(5);
  private Duration clockSkew = Duration.ofMinutes(5);
  private Duration grace = Duration.ofDays(7);
  private Path cacheDir;
  private Duration timeout = Duration.ofSeconds(10);
  private HttpClient httpClient;
  private Clock clock = Clock.systemUTC();

  private Config() {}

  /**
   * Settings with defaults, trusting the key set in {@code keysJson} (the body of {@code GET
   * /api/tenants/{tenantId}/signing-keys}).
   *
   * @throws VerificationException when the key set does not parse
   * @throws ConfigException when it has no Ed25519 key
   */
  public static Config of(String baseUrl, String productId, String keysJson) {
    Config c = new Config();
    c.baseUrl = stripSlashes(Objects.requireNonNull(baseUrl, "baseUrl"));
    c.productId = Objects.requireNonNull(productId, "productId");
    c.keys = KeySet.parse(Objects.requireNonNull(keysJson, "keysJson"));
    if (c.keys.size() == 0) {
      throw new ConfigException("configuration: the key set has no Ed25519 key", null);
    }
    return c;
  }

  Config copy() {
    Config c = new Config();
    c.baseUrl = baseUrl;
    c.productId = productId;
    c.keys = keys;
    c.environment = environment;
    c.acceptTestLicenses = acceptTestLicenses;
    c.maxAnswerAge = maxAnswerAge;
    c.clockSkew = clockSkew;
    c.grace = grace;
    c.cacheDir = cacheDir;
    c.timeout = timeout;
    c.httpClient = httpClient;
    c.clock = clock;
    return c;
  }

  private static String stripSlashes(String url) {
    String s = url;
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }

  /** Keyhook's base URL. */
  public String baseUrl() {
    return baseUrl;
  }

  public Config baseUrl(String baseUrl) {
    this.baseUrl = stripSlashes(Objects.requireNonNull(baseUrl));
    return this;
  }

  /** The product this app is. */
  public String productId() {
    return productId;
  }

  /** The tenant's public keys. */
  public KeySet keys() {
    return keys;
  }

  public Config keys(KeySet keys) {
    this.keys = Objects.requireNonNull(keys);
    return this;
  }

  /** {@link Environment#LIVE} (default) or {@link Environment#TEST}. */
  public Environment environment() {
    return environment;
  }

  public Config environment(Environment environment) {
    this.environment = Objects.requireNonNull(environment);
    return this;
  }

  /** A live build that also trusts test licenses (the product has {@code acceptTestLicenses: true}). */
  public boolean acceptTestLicenses() {
    return acceptTestLicenses;
  }

  public Config acceptTestLicenses(boolean accept) {
    this.acceptTestLicenses = accept;
    return this;
  }

  /** Whether this build trusts test licenses (a test build, or {@link #acceptTestLicenses()}). */
  public boolean acceptsTestLicenses() {
    return environment == Environment.TEST || acceptTestLicenses;
  }

  /** Oldest online answer accepted (default 5 minutes). */
  public Duration maxAnswerAge() {
    return maxAnswerAge;
  }

  public Config maxAnswerAge(Duration maxAnswerAge) {
    this.maxAnswerAge = Objects.requireNonNull(maxAnswerAge);
    return this;
  }

  /**
   * Tolerated clock difference with Keyhook (default 5 minutes), and how far behind the clock
   * mark the clock may be before it counts as set back.
   */
  public Duration clockSkew() {
    return clockSkew;
  }

  public Config clockSkew(Duration clockSkew) {
    this.clockSkew = Objects.requireNonNull(clockSkew);
    return this;
  }

  /** How long after the last good online answer the app keeps working offline on it (default 7 days). */
  public Duration grace() {
    return grace;
  }

  public Config grace(Duration grace) {
    this.grace = Objects.requireNonNull(grace);
    return this;
  }

  /** Where the last good answer, the license file and the clock mark are kept (null: in memory only). */
  public Path cacheDir() {
    return cacheDir;
  }

  public Config cacheDir(Path cacheDir) {
    this.cacheDir = cacheDir;
    return this;
  }

  /** Timeout of one HTTP request (default 10 s). */
  public Duration timeout() {
    return timeout;
  }

  public Config timeout(Duration timeout) {
    this.timeout = Objects.requireNonNull(timeout);
    return this;
  }

  /** The HTTP client (null: one built with {@link #timeout()}); set your own for proxies. */
  public HttpClient httpClient() {
    return httpClient;
  }

  public Config httpClient(HttpClient httpClient) {
    this.httpClient = httpClient;
    return this;
  }

  /** The clock (tests set it; apps keep the system clock). */
  public Clock clock() {
    return clock;
  }

  public Config clock(Clock clock) {
    this.clock = Objects.requireNonNull(clock);
    return this;
  }
}
