package dev.keyhook;

/**
 * A verified standing. {@code valid} is true only for {@code VALID} and {@code TRIAL}; {@code
 * code} is the answer's ({@code VALID}, {@code TRIAL}, {@code NOT_ACTIVATED}, ...; {@code VALID}
 * for a license file); {@code livemode} is false for licenses from Stripe test-mode payments.
 * {@code answer} (online and cached answers) or {@code file} (a license file) is the verified
 * document; the other is null.
 */
public record Status(
    boolean valid, String code, String detail, boolean livemode, Source source, Answer answer, FilePayload file) {

  static Status of(Answer a, Source source) {
    return new Status(a.valid(), a.code(), a.detail(), a.livemode(), source, a, null);
  }

  static Status of(FilePayload p) {
    return new Status(true, "VALID", "The license file is valid.", p.livemode(), Source.LICENSE_FILE, null, p);
  }

  /**
   * With {@code DEVICE_LIMIT_REACHED}: where the buyer frees a device (the license's page in the
   * merchant's customer portal); else null. Show it: "Too many devices — manage your devices".
   */
  public String manageUrl() {
    return answer == null ? null : answer.manageUrl();
  }

  /** Whether the status comes from something kept rather than from Keyhook now. */
  public boolean offline() {
    return source != Source.ONLINE;
  }

  /** Whether the license grants {@code entitlement} (known from a license file). */
  public boolean has(String entitlement) {
    return file != null && file.has(entitlement);
  }
}
