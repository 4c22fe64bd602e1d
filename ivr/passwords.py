"""Passwords kept as salted PBKDF2-SHA256 hashes, never in the clear (unit staff accounts).

The format is `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`, so the iteration count can
grow later without invalidating the hashes already kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ITERATIONS = 200_000  # ~0.1 s on the line's machines: cheap for a sign-in, dear for guessing


def hash_password(password: str, *, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for any malformed or empty hash."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256" or not password:
            return False
        mine = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(mine.hex(), digest)
