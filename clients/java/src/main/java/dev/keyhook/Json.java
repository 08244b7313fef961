package dev.keyhook;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON reader and writer (RFC 8259), because Java's standard library has none and
 * this client takes no dependency.
 *
 * <p>Reading gives: objects as {@code Map<String, Object>} (members in their order), arrays as
 * {@code List<Object>}, strings as {@code String}, numbers as {@link BigDecimal} (exact),
 * {@code true}/{@code false} as {@code Boolean}, {@code null} as Java {@code null}. It refuses
 * what a lenient parser would guess at: text that is not UTF-8 (or starts with a byte order
 * mark), anything after the value, a member named twice, control characters in strings, lone
 * surrogates, unknown escapes, leading zeros, {@code NaN}, trailing commas, comments, and more
 * than 128 levels of nesting. Every refusal is a {@link JsonException} naming the offset.
 *
 * <p>Writing takes the same types (and any {@link Number}, {@link Map} with string keys,
 * {@link List}) and gives compact JSON: no spaces, non-ASCII characters as they are, control
 * characters, {@code "} and {@code \} escaped.
 */
public final class Json {
  private static final int MAX_DEPTH = 128;

  private Json() {}

  /** Malformed JSON, or a value that cannot be written. */
  public static final class JsonException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    JsonException(String message) {
      super(message);
    }
  }

  /** Parses UTF-8 bytes (strictly decoded: malformed UTF-8 is refused). */
  public static Object parse(byte[] utf8) {
    try {
      String text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(utf8))
              .toString();
      return parse(text);
    } catch (CharacterCodingException e) {
      throw new JsonException("not UTF-8");
    }
  }

  /** Parses a whole text: one value, white space around it and nothing else. */
  public static Object parse(String text) {
    Reader r = new Reader(text);
    r.skipSpace();
    Object value = r.value(0);
    r.skipSpace();
    if (r.pos != text.length()) {
      throw r.error("text after the value");
    }
    return value;
  }

  /** Compact JSON of a value. */
  public static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object value, int depth) {
    if (depth > MAX_DEPTH) {
      throw new JsonException("nested too deep");
    }
    if (value == null) {
      out.append("null");
    } else if (value instanceof String) {
      writeString(out, (String) value);
    } else if (value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Double || value instanceof Float) {
      double d = ((Number) value).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        throw new JsonException("not a JSON number: " + d);
      }
      out.append(BigDecimal.valueOf(d).toString());
    } else if (value instanceof Number) {
      out.append(new BigDecimal(value.toString()).toString());
    } else if (value instanceof Map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
        if (!(e.getKey() instanceof String)) {
          throw new JsonException("an object member's name is not a string");
        }
        if (!first) {
          out.append(',');
        }
        first = false;
        writeString(out, (String) e.getKey());
        out.append(':');
        write(out, e.getValue(), depth + 1);
      }
      out.append('}');
    } else if (value instanceof List) {
      out.append('[');
      boolean first = true;
      for (Object item : (List<?>) value) {
        if (!first) {
          out.append(',');
        }
        first = false;
        write(out, item, depth + 1);
      }
      out.append(']');
    } else {
      throw new JsonException("cannot write a " + value.getClass().getName());
    }
  }

  private static void writeString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else if (Character.isSurrogate(c)) {
            boolean paired =
                Character.isHighSurrogate(c)
                    && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1));
            if (!paired) {
              throw new JsonException("a lone surrogate in a string");
            }
            out.append(c).append(s.charAt(++i));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  private static final class Reader {
    final String text;
    int pos;

    Reader(String text) {
      this.text = text;
    }

    JsonException error(String what) {
      return new JsonException("JSON: " + what + " at offset " + pos);
    }

    void skipSpace() {
      while (pos < text.length()) {
        char c = text.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          return;
        }
        pos++;
      }
    }

    char peek() {
      if (pos >= text.length()) {
        throw error("unexpected end");
      }
      return text.charAt(pos);
    }

    void expect(char c) {
      if (peek() != c) {
        throw error("expected '" + c + "'");
      }
      pos++;
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw error("nested too deep");
      }
      char c = peek();
      switch (c) {
        case '{':
          return object(depth);
        case '[':
          return array(depth);
        case '"':
          return string();
        case 't':
          literal("true");
          return Boolean.TRUE;
        case 'f':
          literal("false");
          return Boolean.FALSE;
        case 'n':
          literal("null");
          return null;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
          }
          throw error("unexpected '" + c + "'");
      }
    }

    void literal(String word) {
      if (!text.startsWith(word, pos)) {
        throw error("expected " + word);
      }
      pos += word.length();
    }

    Map<String, Object> object(int depth) {
      expect('{');
      Map<String, Object> members = new LinkedHashMap<>();
      skipSpace();
      if (peek() == '}') {
        pos++;
        return Collections.unmodifiableMap(members);
      }
      while (true) {
        skipSpace();
        if (peek() != '"') {
          throw error("expected a member name");
        }
        int at = pos;
        String name = string();
        if (members.containsKey(name)) {
          pos = at;
          throw error("member \"" + name + "\" twice");
        }
        skipSpace();
        expect(':');
        skipSpace();
        members.put(name, value(depth + 1));
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect('}');
        return Collections.unmodifiableMap(members);
      }
    }

    List<Object> array(int depth) {
      expect('[');
      List<Object> items = new ArrayList<>();
      skipSpace();
      if (peek() == ']') {
        pos++;
        return Collections.unmodifiableList(items);
      }
      while (true) {
        skipSpace();
        items.add(value(depth + 1));
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect(']');
        return Collections.unmodifiableList(items);
      }
    }

    String string() {
      expect('"');
      StringBuilder out = new StringBuilder();
      while (true) {
        char c = peek();
        pos++;
        if (c == '"') {
          return out.toString();
        }
        if (c < 0x20) {
          pos--;
          throw error("a control character in a string");
        }
        if (Character.isSurrogate(c)) {
          // Raw surrogates come in pairs from valid UTF-8; a lone one is refused.
          if (!Character.isHighSurrogate(c) || pos >= text.length() || !Character.isLowSurrogate(text.charAt(pos))) {
            throw error("a lone surrogate");
          }
          out.append(c).append(text.charAt(pos++));
          continue;
        }
        if (c != '\\') {
          out.append(c);
          continue;
        }
        char e = peek();
        pos++;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out.append(e);
            break;
          case 'b':
            out.append('\b');
            break;
          case 'f':
            out.append('\f');
            break;
          case 'n':
            out.append('\n');
            break;
          case 'r':
            out.append('\r');
            break;
          case 't':
            out.append('\t');
            break;
          case 'u':
            char u = hex4();
            if (Character.isHighSurrogate(u)) {
              if (!text.startsWith("\\u", pos)) {
                throw error("a lone surrogate escape");
              }
              pos += 2;
              char low = hex4();
              if (!Character.isLowSurrogate(low)) {
                throw error("a lone surrogate escape");
              }
              out.append(u).append(low);
            } else if (Character.isLowSurrogate(u)) {
              throw error("a lone surrogate escape");
            } else {
              out.append(u);
            }
            break;
          default:
            pos--;
            throw error("an unknown escape \\" + e);
        }
      }
    }

    char hex4() {
      if (pos + 4 > text.length()) {
        throw error("a short \\u escape");
      }
      int v = 0;
      for (int i = 0; i < 4; i++) {
        int d = Character.digit(text.charAt(pos + i), 16);
        if (d < 0 || text.charAt(pos + i) > 'f') {
          throw error("a bad \\u escape");
        }
        v = v * 16 + d;
      }
      pos += 4;
      return (char) v;
    }

    BigDecimal number() {
      int start = pos;
      if (peek() == '-') {
        pos++;
      }
      if (peek() == '0') {
        pos++;
      } else if (peek() >= '1' && peek() <= '9') {
        digits();
      } else {
        throw error("a number without digits");
      }
      if (pos < text.length() && text.charAt(pos) == '.') {
        pos++;
        if (pos >= text.length() || !isDigit(text.charAt(pos))) {
          throw error("a fraction without digits");
        }
        digits();
      }
      if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
        pos++;
        if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
          pos++;
        }
        if (pos >= text.length() || !isDigit(text.charAt(pos))) {
          throw error("an exponent without digits");
        }
        digits();
      }
      try {
        return new BigDecimal(text.substring(start, pos));
      } catch (NumberFormatException | ArithmeticException e) {
        throw error("a number out of range");
      }
    }

    void digits() {
      while (pos < text.length() && isDigit(text.charAt(pos))) {
        pos++;
      }
    }

    static boolean isDigit(char c) {
      return c >= '0' && c <= '9';
    }
  }
}
