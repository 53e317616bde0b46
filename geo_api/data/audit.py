"""Append-only audit log: one JSON object per line, rotated by size.

Every API request and every change (ingest, site-set upload or deletion, key creation or
revocation) is written as it completes: who (key id or token subject), role, time, action,
parameters, status, rows or units returned and whether point-level data left - the
logging that the Data Protection Act 2018 s.62 asks of law-enforcement processing.
Entries are only ever appended (``O_APPEND``, one ``write`` per line); rotation renames
``audit.jsonl`` to ``audit.jsonl.1`` (``.1`` to ``.2`` ...) and starts a new file.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

FILE = "audit.jsonl"


class AuditLog:
    def __init__(self, directory: Path, max_bytes: int = 20_000_000, backups: int = 50):
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.dir / FILE

    def write(self, entry: dict) -> None:
        line = (json.dumps({"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                            **entry}, default=str, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.dir / ".lock", "w") as lock:  # other processes (workers, CLI)
                fcntl.flock(lock, fcntl.LOCK_EX)
                if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                    self._rotate()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)

    def _rotate(self) -> None:
        for i in range(self.backups - 1, 0, -1):
            src = self.dir / f"{FILE}.{i}"
            if src.exists():
                os.replace(src, self.dir / f"{FILE}.{i + 1}")
        os.replace(self.path, self.dir / f"{FILE}.1")

    def files(self) -> list[Path]:
        """Oldest first."""
        rotated = sorted(self.dir.glob(f"{FILE}.*"), key=lambda p: -int(p.suffix[1:])
                         if p.suffix[1:].isdigit() else 0)
        return rotated + ([self.path] if self.path.exists() else [])

    def read(self, since: str | None = None, who: str | None = None,
             point_level: bool | None = None) -> Iterator[dict]:
        """Entries in time order, filtered: ``since`` an ISO date/time prefix-comparable
        with the entries' UTC times; ``who`` a key id, subject or role."""
        for path in self.files():
            with path.open() as fh:
                for line in fh:
                    e = json.loads(line)
                    if since and e["time"] < since:
                        continue
                    if who and who not in (e.get("who"), e.get("key_id"), e.get("role")):
                        continue
                    if point_level is not None and bool(e.get("point_level")) != point_level:
                        continue
                    yield e
