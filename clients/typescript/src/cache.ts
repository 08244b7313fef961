/**
 * What the client keeps between runs, per slot (product, license key, device): the last good
 * signed answer, the license file, and the clock mark. The layout is the Rust client's
 * (`answer-<slot>.json`, `file-<slot>.lic`, `mark-<slot>.json` in one directory). Everything kept
 * is signed or MAC'd and verified again when read, so tampering with the cache only loses it (a
 * missing or altered mark counts as a clock set back).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";

import { CacheError } from "./errors";
import { writeAtomically } from "./verify";

/** The cache slot of a (product, license key, device): 24 hex digits. */
export function slot(productId: string, licenseKey: string | null, deviceId: string): string {
  const h = createHash("sha256");
  for (const part of [productId, licenseKey ?? "", deviceId]) h.update(part).update("\0");
  return h.digest("hex").slice(0, 24);
}

/** A kept answer: the raw body (what the signature covers) and the nonce it answered. */
export interface KeptAnswer {
  body: string;
  nonce: string;
}

/** Files in `dir`, or a map in memory (nothing survives a restart). */
export class Cache {
  private readonly memory = new Map<string, string>();

  constructor(readonly dir: string | null) {
    if (dir !== null) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (e) {
        throw new CacheError(`${dir}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  private read(name: string): string | null {
    if (this.dir === null) return this.memory.get(name) ?? null;
    try {
      return readFileSync(join(this.dir, name), "utf8");
    } catch {
      return null;
    }
  }

  private write(name: string, text: string): void {
    if (this.dir === null) {
      this.memory.set(name, text);
      return;
    }
    try {
      writeAtomically(join(this.dir, name), text);
    } catch (e) {
      throw new CacheError(`${name}: ${(e as Error).message}`, { cause: e });
    }
  }

  answer(slotId: string): KeptAnswer | null {
    const text = this.read(`answer-${slotId}.json`);
    if (text === null) return null;
    try {
      const kept = JSON.parse(text);
      if (typeof kept?.body === "string" && typeof kept?.nonce === "string") return { body: kept.body, nonce: kept.nonce };
    } catch {
      // unreadable: nothing kept
    }
    return null;
  }

  putAnswer(slotId: string, kept: KeptAnswer): void {
    this.write(`answer-${slotId}.json`, JSON.stringify({ body: kept.body, nonce: kept.nonce }));
  }

  file(slotId: string): string | null {
    return this.read(`file-${slotId}.lic`);
  }

  putFile(slotId: string, text: string): void {
    this.write(`file-${slotId}.lic`, text);
  }

  /**
   * Forgets the answer and file of a slot (after Keyhook said the license is not valid, so a
   * revoked license cannot run on its old proof). The clock mark stays.
   */
  forget(slotId: string): void {
    for (const name of [`answer-${slotId}.json`, `file-${slotId}.lic`]) {
      if (this.dir === null) {
        this.memory.delete(name);
        continue;
      }
      try {
        unlinkSync(join(this.dir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new CacheError(`${name}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** Whether an offline proof (file or answer) is kept for the slot. */
  hasProof(slotId: string): boolean {
    return this.file(slotId) !== null || this.read(`answer-${slotId}.json`) !== null;
  }

  mark(slotId: string): string | null {
    return this.read(`mark-${slotId}.json`);
  }

  putMark(slotId: string, text: string): void {
    this.write(`mark-${slotId}.json`, text);
  }
}
