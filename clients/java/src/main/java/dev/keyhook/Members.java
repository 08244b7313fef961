package dev.keyhook;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Typed reading of one JSON object's members (parsed by {@link Json}): absent and null members
 * read as absent; a member of the wrong type, or a required one that is absent, is {@code
 * malformed}.
 */
final class Members {
  private final String what;
  private final Map<String, Object> members;

  private Members(String what, Map<String, Object> members) {
    this.what = what;
    this.members = members;
  }

  /** The object in UTF-8 bytes; malformed when it is not JSON or not an object. */
  static Members parse(String what, byte[] utf8) {
    Object value;
    try {
      value = Json.parse(utf8);
    } catch (Json.JsonException e) {
      throw malformed(what + ": " + e.getMessage());
    }
    return of(what, value);
  }

  @SuppressWarnings("unchecked")
  static Members of(String what, Object value) {
    if (!(value instanceof Map)) {
      throw malformed(what + ": not a JSON object");
    }
    return new Members(what, (Map<String, Object>) value);
  }

  static VerificationException malformed(String detail) {
    return new VerificationException(VerificationException.MALFORMED, detail);
  }

  private VerificationException wrongType(String name, String type) {
    return malformed(what + ": " + name + " is not " + type);
  }

  private Object required(String name) {
    Object v = members.get(name);
    if (v == null) {
      throw malformed(what + ": missing " + name);
    }
    return v;
  }

  String optString(String name) {
    Object v = members.get(name);
    if (v != null && !(v instanceof String)) {
      throw wrongType(name, "a string");
    }
    return (String) v;
  }

  String string(String name) {
    required(name);
    return optString(name);
  }

  boolean bool(String name) {
    Object v = required(name);
    if (!(v instanceof Boolean)) {
      throw wrongType(name, "a boolean");
    }
    return (Boolean) v;
  }

  /** An integer from 0 to 2^32 - 1. */
  long u32(String name) {
    return unsigned(name, 0xffffffffL, "an unsigned 32-bit integer");
  }

  /** An integer from 0 to 2^53 - 1 (the counts of usage meters, up to 10^12). */
  long u53(String name) {
    return unsigned(name, (1L << 53) - 1, "an unsigned 53-bit integer");
  }

  /** A whole number from 0 to {@code max}; else the member is of the wrong type ({@code what}). */
  private long unsigned(String name, long max, String what) {
    Object v = required(name);
    if (!(v instanceof BigDecimal)) {
      throw wrongType(name, "a number");
    }
    BigDecimal d = (BigDecimal) v;
    try {
      long n = d.longValueExact();
      if (n < 0 || n > max || d.scale() != 0) {
        throw wrongType(name, what);
      }
      return n;
    } catch (ArithmeticException e) {
      throw wrongType(name, what);
    }
  }

  List<String> strings(String name) {
    Object v = required(name);
    if (!(v instanceof List)) {
      throw wrongType(name, "an array");
    }
    List<String> out = new ArrayList<>();
    for (Object item : (List<?>) v) {
      if (!(item instanceof String)) {
        throw wrongType(name, "an array of strings");
      }
      out.add((String) item);
    }
    return List.copyOf(out);
  }

  /** The member as an object, or null when absent. */
  Members optObject(String name) {
    Object v = members.get(name);
    return v == null ? null : of(what + "." + name, v);
  }

  /** The member as an array of objects, or null when absent. */
  List<Members> optObjects(String name) {
    return members.get(name) == null ? null : objects(name);
  }

  /** The member as an array of objects. */
  List<Members> objects(String name) {
    Object v = required(name);
    if (!(v instanceof List)) {
      throw wrongType(name, "an array");
    }
    List<Members> out = new ArrayList<>();
    for (Object item : (List<?>) v) {
      out.add(of(what + "." + name, item));
    }
    return out;
  }
}
