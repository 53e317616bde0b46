"""Append-only audit log: one JSON object per line, rotated by size.

Every API request and every change (ingest, site-set upload or deletion, key creation or
revocation) is written as it completes: who (key id or token subject), role, time, action,
parameters, status, rows or units returned and whether point-level data left - the
logging that the Data Protection Act 2018 s.62 asks of law-enforcement processing.
Entries are only ever appended (``O_APPEND``, under a lock shared by every process writing
the log); rotation renames ``audit.jsonl`` to ``audit.jsonl.1`` (``.1`` to ``.2`` ...) and
starts a new file.

The web service hands its per-request entries to a writer thread (``start``/``write_soon``)
so no request waits for the file: each entry is stamped with its time when handed over and
written within moments, in batches (what has queued while the last batch was written). At
most ``QUEUE_MAX`` entries wait; past that a request writes its own entry, so none is
dropped. ``close`` (the service's shutdown) writes every queued entry first; a process
killed outright (SIGKILL, power loss) loses the entries still queued - in practice those of
the last few milliseconds, never more than ``QUEUE_MAX``. Reading the log in the process
that writes it (``read``) waits for its queued entries first. The command line's entries
(ingest, keys) are written at once (``write``).
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import queue
import threading
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

FILE = "audit.jsonl"
QUEUE_MAX = 10_000  # entries waiting for the writer thread; past that callers write their own
BATCH_MAX = 1_000  # entries per write
BATCH_WAIT_S = 0.05  # the writer gathers what is handed over this long before writing
RETRY_S = 1.0  # after a failed write (disk full, permissions), the writer tries again
_STOP = object()
_WRITING: weakref.WeakSet[AuditLog] = weakref.WeakSet()  # logs with a writer thread running


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    def __init__(self, directory: Path, max_bytes: int = 20_000_000, backups: int = 50):
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._failed: OSError | None = None  # the writer's last write failed
        self._stopping = threading.Event()

    @property
    def path(self) -> Path:
        return self.dir / FILE

    def write(self, entry: dict) -> None:
        """Append ``entry`` now (raises ``OSError`` when the log cannot be written)."""
        self._append([self._line(_now(), entry)])

    @staticmethod
    def _line(at: str, entry: dict) -> bytes:
        return (json.dumps({"time": at, **entry}, default=str, separators=(",", ":"))
                + "\n").encode()

    def _append(self, lines: list[bytes]) -> None:
        """Append ``lines`` under the log's lock, rotating where the next line would take the
        file past ``max_bytes``."""
        with self._lock:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.dir / ".lock", "w") as lock:  # other processes (workers, CLI)
                fcntl.flock(lock, fcntl.LOCK_EX)
                size = self.path.stat().st_size if self.path.exists() else 0
                start = 0
                for i, line in enumerate(lines):
                    if size and size + len(line) > self.max_bytes:
                        self._write_lines(lines[start:i])
                        self._rotate()
                        start, size = i, 0
                    size += len(line)
                self._write_lines(lines[start:])

    def _write_lines(self, lines: list[bytes]) -> None:
        if not lines:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            data = memoryview(b"".join(lines))
            while data:  # a regular file takes it in one write; a short write is continued
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    # --- the web service's writer thread -----------------------------------------------
    def start(self) -> None:
        """Write ``write_soon`` entries from a thread from now on (until ``close``)."""
        if self._thread is not None:
            return
        self._queue = queue.Queue(QUEUE_MAX)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._drain, name="geo_api-audit", daemon=True)
        self._thread.start()
        _WRITING.add(self)

    def write_soon(self, entry: dict) -> None:
        """``entry`` stamped now and handed to the writer thread; written at once (as
        ``write``) when there is none, its queue is full or its last write failed (then a
        log that cannot be written fails the request, as it would without the thread)."""
        at, q = _now(), self._queue
        if q is not None and self._failed is None:
            try:
                q.put_nowait((at, entry))
                return
            except queue.Full:
                pass
        self._append([self._line(at, entry)])

    def flush(self) -> None:
        """Return when every entry handed over so far is written (or its write failed)."""
        q, thread = self._queue, self._thread
        if q is not None and thread is not None and thread.is_alive():
            q.join()

    def close(self) -> None:
        """Write what is queued, then stop the thread (later entries are written at once)."""
        q, thread = self._queue, self._thread
        if q is None or thread is None:
            return
        self._queue = None  # from now on entries are written at once
        self._stopping.set()  # no more gathering
        q.put(_STOP)  # after every entry queued before it
        thread.join()
        self._stopping.clear()
        self._thread = None
        _WRITING.discard(self)
        late = []  # handed over while the thread was stopping
        while not q.empty():
            late.append(self._line(*q.get_nowait()))
        if late:
            self._append(late)

    def _drain(self) -> None:
        q = self._queue
        assert q is not None
        while True:
            batch = [q.get()]
            if batch[0] is not _STOP:
                # let a batch gather: one wake-up and one locked write for the requests of
                # the next moment, instead of one each (the thread competes for the GIL)
                self._stopping.wait(BATCH_WAIT_S)
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            lines = [self._line(*item) for item in batch if item is not _STOP]
            for attempt in itertools.count():
                try:
                    if lines:
                        self._append(lines)
                    self._failed = None
                    break
                except OSError as e:  # an unwritable log must be noticed: say so loudly
                    self._failed = e
                    logging.getLogger("geo_api").exception(
                        "audit log write failed (%d entries held; attempt %d)", len(lines),
                        attempt + 1)
                    if stop or self._stopping.is_set():  # shutting down: given up (logged)
                        break
                    self._stopping.wait(RETRY_S)
            for _ in batch:
                q.task_done()
            if stop:
                return

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
        with the entries' UTC times; ``who`` a key id, subject or role. Entries this process
        has queued for the same log are written first."""
        for log in list(_WRITING):
            if log.dir == self.dir:
                log.flush()
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
