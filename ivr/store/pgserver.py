"""A private PostgreSQL server in one directory, for tests and for a centre started on one machine.

`initdb` once (data folder 0700, password authentication, listening on 127.0.0.1 and a unix
socket in the same directory only), then `pg_ctl start/stop`. PostgreSQL refuses to run as root,
so under root the server runs as the `hotline` system user if there is one, else `postgres`
(Debian's package creates it), else a `hotline` system user created here; its directory is
handed to that user. The calls block (a start takes ~2 s):
call them from a thread in async code.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ivr.ports import free_port

SUPERUSER = "hotline"
_TIMEOUT = 60.0


class PgServerError(RuntimeError):
    """The server cannot be set up or started; the message says what to fix."""


@dataclass(frozen=True)
class _Account:
    """Who runs the server processes; None: the current user."""

    name: str
    uid: int
    gid: int


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: the newest /usr/lib/postgresql/N/bin, else PATH."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found is None:
        raise PgServerError(
            "PostgreSQL server programs (initdb, pg_ctl) not found: install postgresql-15 "
            "(bash setup/system.sh)"
        )
    return Path(found).parent


def _account() -> _Account | None:
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, "postgres"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return _Account(name, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SUPERUSER],
        check=True,
        capture_output=True,
        timeout=_TIMEOUT,
    )
    entry = pwd.getpwnam(SUPERUSER)
    return _Account(SUPERUSER, entry.pw_uid, entry.pw_gid)


class PgServer:
    """`start()` initialises `directory` on first use and starts the server on a free port;
    `url` is then a `postgresql://` URL for database `database`; `stop()` stops it (fast mode:
    clients are disconnected, committed data stays)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        database: str = "hotline",
        settings: Mapping[str, str] | None = None,
        bindir: Path | None = None,
        port: int = 0,
    ) -> None:
        """`port`: listen there (0: a free port; a restart may then get another one)."""
        self.directory = Path(directory).resolve()
        self.database = database
        self.port = 0
        self._want_port = port
        self._settings = dict(settings or {})
        self._bindir = bindir
        self._account: _Account | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str | None = None) -> str:
        if not self.port:
            raise PgServerError("the server is not started")
        password = quote((self.directory / "password").read_text().strip(), safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database or self.database}"

    def start(self) -> str:
        """Initialise if needed, start, create the database if missing; returns the URL."""
        bindir = self._bindir or find_bindir()
        self._account = _account()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)  # the citizens' records: nobody else may look in
        if not (self.data / "PG_VERSION").exists():
            self._initdb(bindir)
        ctl = [str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log)]
        for attempt in range(3):  # a free port can be taken by another process before we bind it
            port = self._want_port or free_port()
            options = [
                f"-p {port}",
                f"-k {self.directory}",
                "-c listen_addresses=127.0.0.1",
                *(f"-c {k}={v}" for k, v in self._settings.items()),
            ]
            try:
                self._run([*ctl, "-o", " ".join(options), "-w", "-t", str(int(_TIMEOUT)), "start"])
            except PgServerError as exc:
                if attempt == 2 or self._want_port or "could not bind" not in str(exc):
                    raise
                continue
            self.port = port
            break
        self.create_database(self.database)
        return self.url()

    def stop(self) -> None:
        if not self.port:
            return
        bindir = self._bindir or find_bindir()
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        self.port = 0

    def create_database(self, name: str) -> None:
        """Create database `name` unless it exists (names: letters, digits, underscores)."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise PgServerError(f"database name {name!r}: use letters, digits and underscores")
        bindir = self._bindir or find_bindir()
        psql = str(bindir / "psql") if (bindir / "psql").exists() else (shutil.which("psql") or "psql")
        base = [psql, "-h", str(self.directory), "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres"]
        exists = self._run([*base, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"])
        if exists.strip() != "1":
            self._run([*base, "-c", f'CREATE DATABASE "{name}"'])

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _initdb(self, bindir: Path) -> None:
        if self.data.exists() and any(self.data.iterdir()):
            raise PgServerError(f"{self.data} is not empty and holds no PostgreSQL data folder")
        pwfile = self.directory / "password"
        pwfile.write_text(secrets.token_urlsafe(24) + "\n")
        pwfile.chmod(0o600)
        if self._account is not None:
            for path in (self.directory, pwfile):
                os.chown(path, self._account.uid, self._account.gid)
        init = [str(bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8"]
        self._run([*init, "-A", "scram-sha-256", "--pwfile", str(pwfile), "--locale", "C.UTF-8"])

    def _run(self, args: list[str]) -> str:
        account = self._account
        env = {**os.environ, "PGPASSFILE": "/dev/null"}
        with contextlib.suppress(FileNotFoundError):
            env["PGPASSWORD"] = (self.directory / "password").read_text().strip()
        try:
            done = subprocess.run(
                args,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                env=env,
                cwd=self.directory,
                user=account.uid if account else None,
                group=account.gid if account else None,
                extra_groups=[] if account else None,
            )
        except FileNotFoundError as exc:
            raise PgServerError(f"{args[0]} not found: install postgresql-15 (bash setup/system.sh)") from exc
        except subprocess.TimeoutExpired as exc:
            raise PgServerError(f"{Path(args[0]).name} did not finish in {_TIMEOUT:.0f} s") from exc
        if done.returncode != 0:
            log_tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PgServerError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{log_tail}".strip()
            )
        return done.stdout
