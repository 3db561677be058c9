"""Optional HTTP basic auth for the web pages, against a scrypt hash in the configuration.

A hash reads ``scrypt$N$r$p$SALT$KEY`` (SALT and KEY in base64): :func:`hash_password` makes
one (``ingest web hash-password`` prints it). Checking a password costs tens of milliseconds
by design, so :class:`BasicAuth` remembers the last few ``Authorization`` values it accepted
(as SHA-256 digests) and lets them through without hashing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections import OrderedDict
from dataclasses import dataclass

SCRYPT_N = 2**14  # CPU/memory cost (16 MB with r=8)
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
MAX_MEMORY = 64 * 1024 * 1024  # hashlib.scrypt's maxmem, bytes
REMEMBERED = 32  # accepted Authorization values kept


@dataclass(frozen=True)
class PasswordHash:
    """A parsed ``scrypt$N$r$p$SALT$KEY`` value."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def parse_hash(text: str) -> PasswordHash:
    """The parts of a hash made by :func:`hash_password`; ValueError naming the expected form."""
    parts = text.strip().split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError(
            "expected scrypt$N$r$p$SALT$KEY as `ingest web hash-password` prints it"
        ) from None
    if n < 2 or n & (n - 1) or not (1 <= r <= 64 and 1 <= p <= 16) or not salt or not key:
        raise ValueError("scrypt parameters out of range (N a power of two, r 1-64, p 1-16)")
    return PasswordHash(n, r, p, salt, key)


def _derive(password: str, n: int, r: int, p: int, salt: bytes, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=size
    )


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A new ``scrypt$N$r$p$SALT$KEY`` hash of ``password`` (a random salt unless given)."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key = _derive(password, SCRYPT_N, SCRYPT_R, SCRYPT_P, salt, KEY_BYTES)
    encoded = [base64.b64encode(v).decode("ascii") for v in (salt, key)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: PasswordHash) -> bool:
    """True when ``password`` hashes to ``stored`` (compared in constant time)."""
    key = _derive(password, stored.n, stored.r, stored.p, stored.salt, len(stored.key))
    return hmac.compare_digest(key, stored.key)


class BasicAuth:
    """Checks a request's ``Authorization: Basic`` header against one user and hash."""

    realm = "ingestd"

    def __init__(self, user: str, password_hash: str) -> None:
        self.user = user
        self.stored = parse_hash(password_hash)
        self._accepted: OrderedDict[bytes, None] = OrderedDict()

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401 answer."""
        return f'Basic realm="{self.realm}", charset="UTF-8"'

    def allows(self, authorization: str | None) -> bool:
        """True when the header names the user and the right password."""
        if not authorization:
            return False
        digest = hashlib.sha256(authorization.encode("utf-8", "replace")).digest()
        if digest in self._accepted:
            self._accepted.move_to_end(digest)
            return True
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, colon, password = decoded.partition(":")
        same_user = hmac.compare_digest(user.encode("utf-8"), self.user.encode("utf-8"))
        if not colon or not verify_password(password, self.stored) or not same_user:
            return False
        self._accepted[digest] = None
        while len(self._accepted) > REMEMBERED:
            self._accepted.popitem(last=False)
        return True
