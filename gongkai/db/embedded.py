"""Zero-set-up PostgreSQL for gongkai: a server gongkai initialises and starts itself.

Used when DATABASE_URL is unset. The binaries come from the `pgserver` wheel (PostgreSQL 16, so a fresh
machine needs nothing installed); system PostgreSQL binaries are only a fallback when the wheel is missing.

Why not `pgserver.get_server()` itself: it ties the server to the calling process (atexit stop, a
per-process instance cache, a pid list inside the data directory), takes a global lock in the user's
runtime directory, treats any live process with the recorded pid as "running" (pids are reused after a
container restart), sleeps a whole second while polling and, as root, makes every parent directory
world-readable and the fallback socket directory mode 0777. gongkai wants the opposite: a server that
outlives the command so the next command reuses it in milliseconds. So this module drives the wheel's
binaries (`initdb`, `pg_ctl`) directly with the same approach (trust auth over a unix socket only, a
dedicated `pgserver` system user when run as root) and keeps the side effects small.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

__all__ = ["DATABASE_NAME", "EmbeddedPostgresError", "ensure_embedded_postgres", "running_url",
           "stop_embedded_postgres"]

DATABASE_NAME = "gongkai"
SUPERUSER = "postgres"
# Same name pgserver uses, so a data directory made by pgserver itself stays usable.
SERVER_SYSTEM_USER = "pgserver"
LOG_NAME = "server.log"
# sun_path is 108 bytes including the NUL; postgres appends "/.s.PGSQL.5432" to the directory.
_MAX_SOCKET_PATH = 107
_SOCKET_NAME = ".s.PGSQL.5432"
# Directories we pass through pg_ctl's shell command and postgres' comma-separated -k list verbatim.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._/+@=-]+")
_START_TIMEOUT_S = 60


class EmbeddedPostgresError(Exception):
    """The embedded server cannot be set up or started; the message is one line for the user."""


@dataclass(frozen=True)
class _ServerUser:
    """Who runs the server: the caller, or (as root, which postgres refuses) an unprivileged user."""

    uid: int
    gid: int

    @property
    def is_caller(self) -> bool:
        return self.uid == os.geteuid()


def ensure_embedded_postgres(data_dir: Path, *, bindir: Path | None = None) -> str:
    """Initialise (first time) and start (if needed) a server in data_dir; return a URL for `gongkai`.

    Idempotent and safe to call from several processes at once: the already-running case is a pid-file
    read plus one connection (milliseconds) and takes no lock; set-up and start-up run under an exclusive
    file lock next to data_dir. The server is started in its own session and keeps running after the
    caller exits; stop it with stop_embedded_postgres(). bindir overrides where initdb/pg_ctl are found.
    """
    data_dir = Path(data_dir).expanduser().absolute()
    url = _running_url(data_dir)
    if url is not None and _can_connect(url):
        return url
    _check_path_chars(data_dir)
    with _lock(data_dir):
        # Another process may have finished the job while we waited for the lock.
        url = _running_url(data_dir)
        if url is not None and _can_connect(url):
            return url
        bin_path = bindir or _choose_bindir(data_dir)
        user = _prepare_data_dir(data_dir, bin_path)
        if url is None or not _can_connect(url, dbname=SUPERUSER):
            url = _start(data_dir, bin_path, user)
        _create_database(url)
        return url


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server in data_dir if it is running (fast shutdown); a no-op otherwise."""
    data_dir = Path(data_dir).expanduser().absolute()
    if not (data_dir / "PG_VERSION").exists():
        return
    with _lock(data_dir):
        socket_dir = _socket_dir_from_pidfile(data_dir)
        if (data_dir / "postmaster.pid").exists():
            user = _owner_of_existing(data_dir)
            bin_path = _choose_bindir(data_dir)
            result = _run(
                [
                    str(bin_path / "pg_ctl"),
                    "stop",
                    "-D",
                    str(data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-s",
                    "-t",
                    str(_START_TIMEOUT_S),
                ],
                user,
                data_dir,
            )
            if result.returncode != 0 and (data_dir / "postmaster.pid").exists():
                raise EmbeddedPostgresError(
                    f"could not stop PostgreSQL in {data_dir}: {_one_line(result.stderr or result.stdout)}"
                )
        if socket_dir is not None and socket_dir != data_dir and socket_dir.name.startswith("gongkai-pg-"):
            shutil.rmtree(socket_dir, ignore_errors=True)


# --- fast path -------------------------------------------------------------------------------------


def _read_pidfile(data_dir: Path) -> list[str] | None:
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot read {data_dir / 'postmaster.pid'}: {exc.strerror}") from exc


def _socket_dir_from_pidfile(data_dir: Path) -> Path | None:
    lines = _read_pidfile(data_dir)
    if lines is None or len(lines) < 5 or not lines[4].strip():
        return None
    return Path(lines[4].strip())


def _running_url(data_dir: Path) -> str | None:
    """URL of the server postmaster.pid says is ready, or None; the caller still verifies by connecting."""
    lines = _read_pidfile(data_dir)
    # Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
    if lines is None or len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    return _url(Path(lines[4].strip()), int(lines[3]), DATABASE_NAME)


def running_url(data_dir: Path) -> str | None:
    """The URL of the server running in data_dir, if one is and answers; None otherwise."""
    data_dir = Path(data_dir).expanduser().absolute()
    url = _running_url(data_dir) if (data_dir / "PG_VERSION").exists() else None
    return url if url is not None and _can_connect(url) else None


def _url(socket_dir: Path, port: int, dbname: str) -> str:
    host = quote(str(socket_dir), safe="/")
    return f"postgresql://{SUPERUSER}@/{dbname}?host={host}&port={port}"


def _with_dbname(url: str, dbname: str) -> str:
    return url.replace(f"@/{DATABASE_NAME}?", f"@/{dbname}?", 1)


def _can_connect(url: str, dbname: str = DATABASE_NAME) -> bool:
    try:
        psycopg.connect(_with_dbname(url, dbname), connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


# --- set-up ----------------------------------------------------------------------------------------


def _check_path_chars(data_dir: Path) -> None:
    """pg_ctl wraps -D and -l in double quotes inside a /bin/sh command line; these would break it."""
    bad = set('"$`\\\n') & set(str(data_dir))
    if bad:
        raise EmbeddedPostgresError(
            f"data directory path contains unsupported characters {sorted(bad)}: {data_dir}"
        )


@contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    """Exclusive lock beside data_dir (initdb needs an empty directory, so not inside it)."""
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir.parent / f"{data_dir.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot create directory {data_dir.parent}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _pgserver_bindir() -> Path | None:
    # find_spec, not import: importing pgserver costs time and sets up a lock in the runtime directory.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return candidate if (candidate / "pg_ctl").exists() else None


def _system_bindirs() -> list[Path]:
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout
            found.append(Path(out.strip()))
        except (OSError, subprocess.SubprocessError):
            pass

    def version(p: Path) -> int:
        return int(p.parent.name) if p.parent.name.isdigit() else 0

    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    return [p for p in dict.fromkeys(found) if (p / "initdb").exists() and (p / "pg_ctl").exists()]


def _major_version(bin_path: Path) -> str:
    out = subprocess.run([str(bin_path / "pg_ctl"), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(1) if match else ""


def _choose_bindir(data_dir: Path) -> Path:
    """pgserver's binaries first; for an existing cluster, whichever binaries match its major version."""
    candidates = [p for p in [_pgserver_bindir(), *_system_bindirs()] if p is not None]
    if not candidates:
        raise EmbeddedPostgresError(
            "no PostgreSQL binaries: install the pgserver package (pip install pgserver) or set DATABASE_URL"
        )
    try:
        wanted = (data_dir / "PG_VERSION").read_text().strip()
    except OSError:
        return candidates[0]
    for candidate in candidates:
        if _major_version(candidate) == wanted:
            return candidate
    raise EmbeddedPostgresError(
        f"{data_dir} holds a PostgreSQL {wanted} cluster but only PostgreSQL "
        f"{', '.join(sorted({_major_version(c) for c in candidates}))} binaries were found"
    )


def _owner_of_existing(data_dir: Path) -> _ServerUser:
    st = data_dir.stat()
    if os.geteuid() != 0:
        if st.st_uid != os.geteuid():
            raise EmbeddedPostgresError(f"{data_dir} belongs to uid {st.st_uid}, not to the current user")
        return _ServerUser(os.geteuid(), os.getegid())
    if st.st_uid == 0:
        raise EmbeddedPostgresError(f"{data_dir} is owned by root; PostgreSQL will not run as root")
    return _ServerUser(st.st_uid, st.st_gid)


def _system_user() -> _ServerUser:
    """The unprivileged user a root caller runs the server as, created on first use."""
    import pwd

    for attempt in range(2):
        try:
            entry = pwd.getpwnam(SERVER_SYSTEM_USER)
            return _ServerUser(entry.pw_uid, entry.pw_gid)
        except KeyError:
            if attempt:
                break
        useradd = shutil.which("useradd")
        if useradd is None:
            raise EmbeddedPostgresError(
                f"running as root needs a system user {SERVER_SYSTEM_USER!r} and useradd is not available"
            )
        # A concurrent gongkai may win the race; the second getpwnam above then finds its user.
        subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
        )
    raise EmbeddedPostgresError(f"could not create system user {SERVER_SYSTEM_USER!r} (useradd failed)")


def _grant_traverse(path: Path, user: _ServerUser) -> None:
    """Let the server user reach path: add only the missing search (x) bit on each ancestor, no read."""
    for parent in [path, *path.parents]:
        st = parent.stat()
        if st.st_uid == user.uid:
            needed = stat.S_IXUSR
        elif st.st_gid == user.gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not st.st_mode & needed:
            parent.chmod(stat.S_IMODE(st.st_mode) | needed)


def _grant_binaries(bin_path: Path, user: _ServerUser) -> None:
    """An install made under umask 077 leaves the binaries unreadable to the server user; fix that."""
    _grant_traverse(bin_path, user)
    roots = [bin_path.parent, bin_path.parent.parent.parent / "pgserver.libs"]
    if os.stat(bin_path / "postgres").st_mode & stat.S_IXOTH:
        return
    for root in roots:
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            os.chmod(dirpath, stat.S_IMODE(os.stat(dirpath).st_mode) | 0o055)
            for name in files:
                file = os.path.join(dirpath, name)
                mode = stat.S_IMODE(os.stat(file).st_mode)
                os.chmod(file, mode | 0o044 | (0o011 if mode & stat.S_IXUSR else 0))


def _prepare_data_dir(data_dir: Path, bin_path: Path) -> _ServerUser:
    """Create and initdb data_dir if needed; return who runs the server."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if (data_dir / "PG_VERSION").exists():
            user = _owner_of_existing(data_dir)
        else:
            if any(data_dir.iterdir()):
                raise EmbeddedPostgresError(
                    f"{data_dir} is not empty and is not a PostgreSQL data directory (no PG_VERSION); "
                    "move it away or set GONGKAI_HOME"
                )
            user = _system_user() if os.geteuid() == 0 else _ServerUser(os.geteuid(), os.getegid())
            if not user.is_caller:
                os.chown(data_dir, user.uid, user.gid)
            data_dir.chmod(0o700)
        if not user.is_caller:
            _grant_traverse(data_dir, user)
            _grant_binaries(bin_path, user)
        if not os.access(data_dir, os.W_OK):
            raise EmbeddedPostgresError(f"{data_dir} is not writable")
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot prepare {data_dir}: {exc.strerror or exc}") from exc
    if not (data_dir / "PG_VERSION").exists():
        result = _run(
            [
                str(bin_path / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ],
            user,
            data_dir,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed in {data_dir}: {_last_error(result.stderr)}")
    return user


def _socket_dir(data_dir: Path, user: _ServerUser) -> Path:
    """data_dir itself when it fits in sun_path and needs no quoting, else a short private temp dir."""
    if len(os.fsencode(data_dir / _SOCKET_NAME)) <= _MAX_SOCKET_PATH and _PLAIN_PATH.fullmatch(str(data_dir)):
        return data_dir
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    base = Path(tempfile.gettempdir())
    if len(os.fsencode(base)) > 40 or not _PLAIN_PATH.fullmatch(str(base)):
        base = Path("/tmp")
    socket_dir = base / f"gongkai-pg-{digest}"
    try:
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        st = socket_dir.lstat()
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (user.uid, os.geteuid()):
            raise EmbeddedPostgresError(f"socket directory {socket_dir} exists but belongs to someone else")
        if st.st_uid != user.uid:
            os.chown(socket_dir, user.uid, user.gid)
        socket_dir.chmod(0o700)  # trust auth: whoever reaches the socket is superuser
    except OSError as exc:
        raise EmbeddedPostgresError(f"cannot create socket directory {socket_dir}: {exc.strerror}") from exc
    return socket_dir


def _is_our_postmaster(pid: int, data_dir: Path) -> bool | None:
    """Whether pid is a live postgres serving data_dir; None when /proc cannot tell.

    postgres only checks that a lock file's pid is alive, so a pid reused by another process of the
    server user (common after a container restart) or a not yet reaped zombie makes it refuse to start.
    A live postmaster has data_dir as its working directory.
    """
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve() == data_dir.resolve()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except (OSError, IndexError):
        return None


def _clear_stale_locks(data_dir: Path, socket_dir: Path) -> None:
    """Remove postmaster.pid and the socket lock file when the pid in them is not our postmaster."""
    for lock_file in (data_dir / "postmaster.pid", socket_dir / f"{_SOCKET_NAME}.lock"):
        try:
            pid = int(lock_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _is_our_postmaster(pid, data_dir) is False:
            lock_file.unlink(missing_ok=True)
            if lock_file.name.startswith(_SOCKET_NAME):
                (socket_dir / _SOCKET_NAME).unlink(missing_ok=True)


def _start(data_dir: Path, bin_path: Path, user: _ServerUser) -> str:
    """Start postgres detached from the caller (own session) and wait until it accepts connections."""
    socket_dir = _socket_dir(data_dir, user)
    log = data_dir / LOG_NAME
    options = shlex.join(["-h", "", "-k", str(socket_dir)])
    for attempt in range(3):
        # Retried: right after a crash the old postmaster may not be reaped yet.
        _clear_stale_locks(data_dir, socket_dir)
        result = _run(
            [
                str(bin_path / "pg_ctl"),
                "start",
                "-D",
                str(data_dir),
                "-l",
                str(log),
                "-w",
                "-s",
                "-t",
                str(_START_TIMEOUT_S),
                "-o",
                options,
            ],
            user,
            data_dir,
            new_session=True,
        )
        if result.returncode == 0 or "already exists" not in _tail(log, 512) + result.stderr:
            break
        time.sleep(0.5 * (attempt + 1))
    if result.returncode != 0:
        reason = _last_error(_tail(log)) or _last_error(result.stderr) or f"pg_ctl exited {result.returncode}"
        raise EmbeddedPostgresError(f"PostgreSQL in {data_dir} did not start: {reason} (log: {log})")
    lines = _read_pidfile(data_dir) or []
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip() else 5432
    url = _url(socket_dir, port, DATABASE_NAME)
    deadline = time.monotonic() + 10
    while not _can_connect(url, dbname=SUPERUSER):
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(
                f"PostgreSQL in {data_dir} started but refuses connections (log: {log})"
            )
        time.sleep(0.05)
    return url


def _create_database(url: str) -> None:
    try:
        with psycopg.connect(_with_dbname(url, SUPERUSER), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except psycopg.Error as exc:
        raise EmbeddedPostgresError(
            f"cannot create database {DATABASE_NAME!r}: {_one_line(str(exc))}"
        ) from exc


# --- helpers ---------------------------------------------------------------------------------------


def _run(
    cmd: list[str], user: _ServerUser, cwd: Path, *, new_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the server user, with an environment libpq variables cannot steer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    kwargs: dict[str, object] = {}
    if not user.is_caller:
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []}
    try:
        # Files, not pipes: pg_ctl's daemonised postmaster would otherwise hold a pipe open forever.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                cwd=cwd,
                env=env,
                start_new_session=new_session,
                timeout=_START_TIMEOUT_S + 30,
                **kwargs,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedPostgresError(f"could not run {Path(cmd[0]).name}: {_one_line(str(exc))}") from exc


def _tail(path: Path, size: int = 8192) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_error(text: str) -> str:
    """The most telling line of a PostgreSQL log or tool output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in ("FATAL:", "PANIC:", "ERROR:", "initdb: error:", "postgres: ", "pg_ctl: "):
        hits = [line for line in lines if marker in line]
        if hits:
            return _one_line(hits[-1][hits[-1].index(marker) :])
    return _one_line(lines[-1]) if lines else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
