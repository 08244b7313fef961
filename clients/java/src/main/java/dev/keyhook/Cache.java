package dev.keyhook;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the client keeps between runs, per slot (product, license key, device): the last good
 * signed answer, the license file and the clock mark, as files in a directory (the same names
 * and contents as the Rust and Go clients': {@code answer-<slot>.json}, {@code file-<slot>.lic},
 * {@code mark-<slot>.json}), or in memory without one. Everything kept is signed or MAC'd and
 * verified again when read, so tampering with it only loses it.
 */
final class Cache {
  private final Path dir;
  private final Map<String, String> memory = new HashMap<>();

  Cache(Path dir) {
    this.dir = dir;
    if (dir != null) {
      try {
        Files.createDirectories(dir);
      } catch (IOException e) {
        throw new CacheException("cache: " + dir + ": " + e.getMessage(), e);
      }
    }
  }

  /** The slot of a (product, license key, device): hex(SHA-256(product 0 key 0 device 0)[..12]). */
  static String slot(String productId, String licenseKey, String deviceId) {
    String joined = productId + '\0' + (licenseKey == null ? "" : licenseKey) + '\0' + deviceId + '\0';
    return HexFormat.of().formatHex(Hashes.sha256(joined.getBytes(StandardCharsets.UTF_8)), 0, 12);
  }

  private synchronized String read(String name) {
    if (dir == null) {
      return memory.get(name);
    }
    try {
      return Files.readString(dir.resolve(name), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return null;
    }
  }

  /** Replaces a file atomically (a temporary file, then a rename): a crash never leaves half of one. */
  private synchronized void write(String name, String text) {
    if (dir == null) {
      memory.put(name, text);
      return;
    }
    Path tmp = dir.resolve("." + name + ".tmp");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new CacheException("cache: " + name + ": " + e.getMessage(), e);
    }
  }

  private synchronized void remove(String name) {
    if (dir == null) {
      memory.remove(name);
      return;
    }
    try {
      Files.deleteIfExists(dir.resolve(name));
    } catch (IOException e) {
      // A proof that cannot be removed is still verified again whenever it is read.
    }
  }

  /** A kept answer: its raw body (what the signature covers) and the nonce it answered. */
  record Kept(String body, String nonce) {}

  Kept answer(String slot) {
    String text = read("answer-" + slot + ".json");
    if (text == null) {
      return null;
    }
    try {
      Members m = Members.parse("kept answer", text.getBytes(StandardCharsets.UTF_8));
      return new Kept(m.string("body"), m.string("nonce"));
    } catch (VerificationException e) {
      return null;
    }
  }

  void putAnswer(String slot, Kept kept) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("body", kept.body());
    m.put("nonce", kept.nonce());
    write("answer-" + slot + ".json", Json.write(m));
  }

  String file(String slot) {
    return read("file-" + slot + ".lic");
  }

  void putFile(String slot, String text) {
    write("file-" + slot + ".lic", text);
  }

  /** Forgets the answer and file of a slot (a license Keyhook just called invalid). */
  void forget(String slot) {
    remove("answer-" + slot + ".json");
    remove("file-" + slot + ".lic");
  }

  /** Whether an offline proof (file or answer) is kept for the slot. */
  boolean hasProof(String slot) {
    return file(slot) != null || read("answer-" + slot + ".json") != null;
  }

  String mark(String slot) {
    return read("mark-" + slot + ".json");
  }

  void putMark(String slot, String text) {
    write("mark-" + slot + ".json", text);
  }
}
