"""Passwords kept as salted PBKDF2-SHA256 hashes, never in the clear (unit staff accounts, and
seats and supervisors in config.toml when hashed with `ivr passwd`).

The format is `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`, so the iteration count can
grow later without invalidating the hashes already kept."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import os
import secrets
import sys

PASSWORD_ENV = "IVR_PASSWORD"  # `ivr passwd` reads it instead of asking on the tty (scripts)
MIN_LENGTH = 8
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


def is_hash(stored: str) -> bool:
    """Whether `stored` is a hash this module made (not a plain password from config)."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha256" or not parts[1].isdigit():
        return False
    try:
        bytes.fromhex(parts[2])
        bytes.fromhex(parts[3])
    except ValueError:
        return False
    return bool(parts[2]) and len(parts[3]) == 64


def password_matches(given: str, configured: str) -> bool:
    """A sign-in against a password from config: a hash is checked as a hash, plain text (allowed
    on a loopback-only console) compared in constant time. An empty configured password never
    matches: the account cannot sign in."""
    if not configured or not given:
        return False
    if is_hash(configured):
        return check_password(given, configured)
    return hmac.compare_digest(given.encode(), configured.encode())


def cmd_passwd(args: argparse.Namespace) -> int:
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("ivr passwd: the two passwords differ", file=sys.stderr)
            return 2
    if len(password) < MIN_LENGTH:
        print(f"ivr passwd: a password needs at least {MIN_LENGTH} characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "passwd",
        help=f"print a password hash for config.toml (seats, supervisors); reads ${PASSWORD_ENV} or the tty",
    )
    p.set_defaults(func=cmd_passwd)
