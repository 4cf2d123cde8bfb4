"""Device tokens for HTTP ingest: each bound to one device and one org, stored only as hashes.

The store is one JSON file (`FRONTLINE_TOKEN_FILE`, mode 0600), written atomically under an
exclusive lock, so `frontline tokens create|revoke` and a running `frontline serve` can share it:
the server rereads it when it changes (checked at most once a second), so a revoke takes effect
within a second without a restart. Only SHA-256 hex digests of tokens are kept; a token is shown
once, at creation. Tokens are 256-bit random, so an unsalted hash is enough (no dictionary to
try). Revoked entries stay in the file (who had access, and until when).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

TOKEN_PREFIX = "flt_"
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RELOAD_EVERY_S = 1.0


class TokenError(Exception):
    """A token operation cannot be done; the message says why."""


@dataclass(frozen=True)
class Device:
    """One issued token, without the token itself."""

    token_sha256: str
    device_id: str
    org_id: str
    created_at: str
    revoked_at: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file. Reads are cached; writes lock, reread, then replace the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._by_hash: dict[str, Device] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0

    def create(self, device_id: str, org_id: str) -> str:
        """Issue a token for a device of an org; returns the token (shown only this once)."""
        if not DEVICE_ID.match(device_id):
            raise TokenError("device id: 1-64 of A-Z a-z 0-9 . _ : - (starting alphanumeric)")
        if not ORG_ID.match(org_id):
            raise TokenError("org id: 1-64 of A-Z a-z 0-9 . _ - (starting alphanumeric)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        device = Device(token_hash(token), device_id, org_id, _now())
        with self._editing() as devices:
            devices.append(device)
        return token

    def revoke(self, device_id: str) -> int:
        """Revoke every active token of a device; returns how many."""
        count = 0
        with self._editing() as devices:
            for i, device in enumerate(devices):
                if device.device_id == device_id and device.revoked_at is None:
                    devices[i] = Device(**{**asdict(device), "revoked_at": _now()})
                    count += 1
        return count

    def devices(self) -> list[Device]:
        return self._read()

    def check(self) -> None:
        """Raise TokenError if the token file cannot be read now (health checks)."""
        self._refresh()

    def authenticate(self, token: str) -> Device | None:
        """The active device holding `token`, or None. TokenError if the file is unreadable."""
        self._refresh()
        device = self._by_hash.get(token_hash(token))
        return device if device is not None and device.revoked_at is None else None

    # -- file ---------------------------------------------------------------------------------

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_EVERY_S and self._stamp is not None:
            return
        with self._lock:
            self._checked = now
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                stamp = (0, 0)
            if stamp != self._stamp:
                # A file that cannot be read is not an empty store: nobody is let in, and
                # every check says why until the file is fixed.
                self._by_hash = {}
                self._stamp = None
                self._by_hash = {d.token_sha256: d for d in self._read()}
                self._stamp = stamp

    def _read(self) -> list[Device]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise TokenError(f"cannot read the token file {self.path}: {exc}") from None
        try:
            return [Device(**d) for d in doc.get("devices", [])]
        except (AttributeError, TypeError) as exc:
            raise TokenError(
                f"the token file {self.path} is not a Frontline token file ({exc}); "
                "restore it from a backup or recreate the tokens"
            ) from None

    @contextmanager
    def _editing(self) -> Iterator[list[Device]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            devices = self._read()
            yield devices
            tmp = self.path.with_name(self.path.name + ".tmp")
            text = json.dumps({"version": 1, "devices": [asdict(d) for d in devices]}, indent=1)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        self._stamp = None  # reread on the next authenticate


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
