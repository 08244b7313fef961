package dev.keyhook;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The strict JSON reader and writer. */
public final class JsonTest {
  @Test
  void readsEveryKindOfValue() {
    Object v = Json.parse(" {\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"\\u00e9\\ud83d\\ude00\\n\\\"\"}} ");
    Map<?, ?> m = (Map<?, ?>) v;
    Check.equal(m.keySet().toString(), "[a, b]", "members in order");
    List<?> a = (List<?>) m.get("a");
    Check.equal(a.get(0), new BigDecimal("1"), "integer");
    Check.equal(((BigDecimal) a.get(1)).compareTo(new BigDecimal("-2500")), 0, "exponent");
    Check.equal(a.get(2), Boolean.TRUE, "true");
    Check.isTrue(a.get(4) == null && a.size() == 5, "null");
    Check.equal(((Map<?, ?>) m.get("b")).get("c"), "é😀\n\"", "escapes");
    Check.equal(Json.parse("\"plain é\"".getBytes(StandardCharsets.UTF_8)), "plain é", "UTF-8 bytes");
  }

  @Test
  void refusesWhatALenientParserWouldGuessAt(Cases cases) {
    for (String bad :
        new String[] {
          "", "{", "{}x", "{} {}", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}", "{\"a\":1,\"a\":2}",
          "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity", "tru", "nul", "'a'", "\"a",
          "\"\t\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u12\"",
          "// c\n{}", "{\"a\":1}/**/", "[".repeat(200) + "]".repeat(200)
        }) {
      cases.run("refuses " + Json.write(bad.length() > 20 ? bad.substring(0, 20) + "..." : bad), () ->
          Check.thrown(Json.JsonException.class, () -> Json.parse(bad)));
    }
    cases.run("refuses a byte order mark", () ->
        Check.thrown(Json.JsonException.class, () -> Json.parse(new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf, '{', '}'})));
    cases.run("refuses bytes that are not UTF-8", () ->
        Check.thrown(Json.JsonException.class, () -> Json.parse(new byte[] {'"', (byte) 0xc3, '"'})));
    cases.run("takes 128 levels", () -> Json.parse("[".repeat(128) + "]".repeat(128)));
  }

  @Test
  void writesCompactJsonThatReadsBack() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("s", "a\"b\\c\n\u0001é😀");
    m.put("n", 42L);
    m.put("d", 1.5);
    m.put("b", false);
    m.put("z", null);
    m.put("l", List.of(1, "x"));
    String text = Json.write(m);
    Check.equal(text, "{\"s\":\"a\\\"b\\\\c\\n\\u0001é😀\",\"n\":42,\"d\":1.5,\"b\":false,\"z\":null,\"l\":[1,\"x\"]}", "written");
    Map<?, ?> back = (Map<?, ?>) Json.parse(text);
    Check.equal(back.get("s"), m.get("s"), "string round trip");
    Check.thrown(Json.JsonException.class, () -> Json.write(Double.NaN));
    Check.thrown(Json.JsonException.class, () -> Json.write("\ud800"));
    Check.thrown(Json.JsonException.class, () -> Json.write(new Object()));
  }
}
