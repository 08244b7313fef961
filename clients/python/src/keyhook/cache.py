"""What the client keeps between runs, per slot (product, license key, device): the last good
signed answer, the license file, and the clock mark. The layout is the Rust client's
(`answer-<slot>.json`, `file-<slot>.lic`, `mark-<slot>.json` in one directory). Everything
kept is signed or MAC'd and verified again when read, so tampering with the cache only loses
it (a missing or altered mark counts as a clock set back)."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import threading

from .errors import CacheError
from .verify import write_atomically


def slot(product_id: str, license_key: str | None, device_id: str) -> str:
    """The cache slot of a (product, license key, device): 24 hex digits."""
    h = hashlib.sha256()
    for part in (product_id, license_key or "", device_id):
        h.update(part.encode() + b"\x00")
    return h.hexdigest()[:24]


class Cache:
    """Files in `directory`, or a dict in memory (nothing survives a restart)."""

    def __init__(self, directory: str | os.PathLike | None):
        self.dir = pathlib.Path(directory) if directory is not None else None
        self._memory: dict[str, str] = {}
        self._lock = threading.Lock()
        if self.dir is not None:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CacheError(f"{self.dir}: {e}") from e

    def _read(self, name: str) -> str | None:
        if self.dir is None:
            with self._lock:
                return self._memory.get(name)
        try:
            return (self.dir / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def _write(self, name: str, text: str) -> None:
        if self.dir is None:
            with self._lock:
                self._memory[name] = text
            return
        try:
            write_atomically(self.dir / name, text)
        except OSError as e:
            raise CacheError(f"{name}: {e}") from e

    def answer(self, slot_id: str) -> tuple[str, str] | None:
        """The kept answer's raw body and the nonce it answered."""
        text = self._read(f"answer-{slot_id}.json")
        try:
            kept = json.loads(text) if text is not None else None
            if isinstance(kept, dict) and isinstance(kept.get("body"), str) \
                    and isinstance(kept.get("nonce"), str):
                return kept["body"], kept["nonce"]
        except ValueError:
            pass
        return None

    def put_answer(self, slot_id: str, body: str, nonce: str) -> None:
        self._write(f"answer-{slot_id}.json",
                    json.dumps({"body": body, "nonce": nonce}, separators=(",", ":")))

    def file(self, slot_id: str) -> str | None:
        return self._read(f"file-{slot_id}.lic")

    def put_file(self, slot_id: str, text: str) -> None:
        self._write(f"file-{slot_id}.lic", text)

    def forget(self, slot_id: str) -> None:
        """Forgets the answer and file of a slot (after Keyhook said the license is not valid,
        so a revoked license cannot run on its old proof). The clock mark stays."""
        for name in (f"answer-{slot_id}.json", f"file-{slot_id}.lic"):
            if self.dir is None:
                with self._lock:
                    self._memory.pop(name, None)
            else:
                try:
                    (self.dir / name).unlink()
                except FileNotFoundError:
                    pass
                except OSError as e:
                    raise CacheError(f"{name}: {e}") from e

    def has_proof(self, slot_id: str) -> bool:
        """Whether an offline proof (file or answer) is kept for the slot."""
        return (self.file(slot_id) is not None
                or self._read(f"answer-{slot_id}.json") is not None)

    def mark(self, slot_id: str) -> str | None:
        return self._read(f"mark-{slot_id}.json")

    def put_mark(self, slot_id: str, text: str) -> None:
        self._write(f"mark-{slot_id}.json", text)
