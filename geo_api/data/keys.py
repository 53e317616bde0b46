"""API keys, stored hashed in one small JSON file (mode 0600, replaced atomically).

A key is ``gk_<id>_<secret>``: ``id`` (8 hex characters) finds the record, ``secret``
(256 random bits) is never stored - only the SHA-256 of the whole key, compared in constant
time. Because the secret is random and long, a fast hash is enough (a password hash is for
guessable passwords). Revoked keys stay in the file, marked, so the audit log's key ids
keep their meaning.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from geo_api.errors import InvalidParameter, NotFound

ROLES = ("public", "partner", "analyst", "admin")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    name: str
    sha256: str
    created: str
    revoked: str | None = None

    def public(self) -> dict:
        """Everything but the hash."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._parsed: tuple[tuple | None, dict[str, KeyRecord]] = (None, {})

    def _read(self) -> dict[str, KeyRecord]:
        return dict(self._current())

    def _current(self) -> dict[str, KeyRecord]:
        """The records as the file holds them now (not to be changed by the caller). The
        parsed file is kept while the file's identity, size and times are unchanged: a stat
        per call instead of a read and a parse, as every request verifies a key. Any change -
        a key created or revoked by this process, another worker or the command line (which
        replace the file) - is read at the next call, so a revoked key is refused from the
        first request after its revocation. The file is read after the stat, so what is kept
        is never older than the stamp it is kept under."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        seen, records = self._parsed
        if stamp != seen:
            records = {r["key_id"]: KeyRecord(**r)
                       for r in json.loads(self.path.read_text())["keys"]}
            self._parsed = (stamp, records)
        return records

    @contextlib.contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, records: dict[str, KeyRecord]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"keys": [asdict(r) for r in records.values()]}, fh, indent=1)
            os.replace(tmp, self.path)
            self._parsed = (None, {})  # (other processes' writes are seen by the stat)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def create(self, role: str, name: str) -> tuple[str, KeyRecord]:
        """A new key (returned once, in clear) and its record."""
        if role not in ROLES:
            raise InvalidParameter(f"role: {role!r} is not one of {', '.join(ROLES)}")
        if not name or len(name) > 80 or any(ord(c) < 32 for c in name):
            raise InvalidParameter("name: 1-80 printable characters")
        with self._locked():
            records = self._read()
            key_id = secrets.token_hex(4)
            while key_id in records:
                key_id = secrets.token_hex(4)
            key = f"gk_{key_id}_{secrets.token_urlsafe(32)}"
            rec = KeyRecord(key_id, role, name, _hash(key), _now())
            records[key_id] = rec
            self._write(records)
        return key, rec

    def revoke(self, key_id: str) -> KeyRecord:
        with self._locked():
            records = self._read()
            if key_id not in records:
                raise NotFound(f"key: no key with id {key_id!r}")
            rec = records[key_id]
            if rec.revoked is None:
                rec = records[key_id] = KeyRecord(**{**asdict(rec), "revoked": _now()})
                self._write(records)
        return rec

    def list(self) -> list[KeyRecord]:
        return list(self._current().values())

    def has_active(self, role: str | None = None) -> bool:
        return any(r.revoked is None and (role is None or r.role == role) for r in self.list())

    def verify(self, key: str) -> KeyRecord | None:
        """The active record of ``key``, or None; the hash comparison is constant-time and
        done even when the id is unknown."""
        parts = key.split("_", 2)
        key_id = parts[1] if len(parts) == 3 and parts[0] == "gk" else ""
        rec = self._current().get(key_id)
        ok = hmac.compare_digest(_hash(key), rec.sha256 if rec else _DUMMY_HASH)
        return rec if ok and rec is not None and rec.revoked is None else None
