package dev.keyhook;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.regex.Pattern;

/** Times as Keyhook writes them: RFC 3339 in UTC with milliseconds ({@code 2026-11-24T10:00:00.000Z}). */
public final class Times {
  private static final DateTimeFormatter FORMAT =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private static final Pattern RFC3339 =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})");

  private Times() {}

  /** The fixed-width form, finer digits than milliseconds dropped. */
  public static String format(Instant t) {
    return FORMAT.format(t.truncatedTo(ChronoUnit.MILLIS));
  }

  /** An RFC 3339 timestamp of a signed document (an offset or Z required); else malformed. */
  static Instant parse(String field, String s) {
    try {
      if (!RFC3339.matcher(s).matches()) {
        throw new DateTimeParseException("not RFC 3339", s, 0);
      }
      return OffsetDateTime.parse(s, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      throw Members.malformed(field + " is not an RFC 3339 timestamp");
    }
  }
}
