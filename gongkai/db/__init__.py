"""Where the database is and how its schema is kept current.

`DATABASE_URL` points gongkai at any PostgreSQL; without it gongkai starts its own embedded server
in a project-local data directory, so a newcomer needs no server and no configuration.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from urllib.parse import quote, unquote

import psycopg

from gongkai.errors import DatabaseError
from gongkai.settings import get_settings

MIGRATIONS_PACKAGE = "gongkai.db.migrations"
# Any constant works; it only has to be the same for every gongkai process.
MIGRATION_LOCK_KEY = 0x676F6E676B6169

logger = logging.getLogger(__name__)

# Repairs every command makes when it opens the database, registered by the modules that own the tables
# they write (gongkai.crawler.runs.mark_dead_runs: runs whose crawl process is gone). Each runs in its own
# transaction after the migrations; one that fails is logged, never stops the command.
_AFTER_OPEN: list[Callable[[psycopg.Connection], object]] = []


def after_open(hook: Callable[[psycopg.Connection], object]) -> Callable[[psycopg.Connection], object]:
    """Register `hook(conn)` to run whenever a command opens the database (a decorator)."""
    if hook not in _AFTER_OPEN:
        _AFTER_OPEN.append(hook)
    return hook


def gongkai_home() -> Path:
    """The user's state directory (embedded database and the like): GONGKAI_HOME, else the XDG data dir."""
    return get_settings().home_dir


def embedded_data_dir() -> Path:
    """Where the embedded PostgreSQL keeps its data."""
    return gongkai_home() / "pgdata"


def resolve_database_url() -> str:
    """DATABASE_URL if set, else the embedded server's URL (started on first use)."""
    url = get_settings().database_url
    if url:
        return url
    from gongkai.db.embedded import EmbeddedPostgresError, ensure_embedded_postgres

    _note_legacy_data_dir()
    try:
        return ensure_embedded_postgres(embedded_data_dir())
    except EmbeddedPostgresError as exc:
        raise DatabaseError(f"embedded PostgreSQL could not start: {exc}") from exc


def stop_embedded() -> bool:
    """Stop the embedded server (if it runs); True when there was one to stop."""
    from gongkai.db.embedded import EmbeddedPostgresError, running_url, stop_embedded_postgres

    data_dir = embedded_data_dir()
    if running_url(data_dir) is None:
        return False
    try:
        stop_embedded_postgres(data_dir)
    except EmbeddedPostgresError as exc:
        raise DatabaseError(str(exc)) from exc
    return True


def _note_legacy_data_dir() -> None:
    """Before, the embedded database lived in ./.gongkai of whatever directory a command ran in: say where such
    a database is, so its reports are not taken for lost."""
    legacy = Path.cwd() / ".gongkai" / "pgdata"
    if (legacy / "PG_VERSION").exists() and legacy.absolute() != embedded_data_dir():
        logging.getLogger("gongkai.db").warning(
            "a database made by an older gongkai is in %s; this command uses %s (set GONGKAI_HOME=%s to use "
            "the older one)", legacy, embedded_data_dir(), legacy.parent)


def split_userinfo(url: str) -> tuple[str, str, str, str] | None:
    """(scheme://, user, password, the rest after the userinfo) of a URL with credentials; None without.

    By hand, before any parser sees the URL: a password may hold '/', '@', '#', '?' or a bad '%' escape,
    and parsers then take part of it for the host or path and echo it in their errors.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    userinfo, _, after = rest.rpartition("@")  # a host never holds '@': the last one ends the userinfo
    user, _, password = userinfo.partition(":")
    return scheme + "://", user, password, after


def scrub(text: str, url: str) -> str:
    """`text` (an error message) without the URL's password or any piece of it a parser split off."""
    parts = split_userinfo(url)
    password = parts[2] if parts else ""
    if not password:
        return text
    secrets = {password, unquote(password), *(p for p in re.split(r"[@:/?#%]", password) if len(p) >= 3)}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def redact(url: str) -> str:
    """A database URL fit for logs and error messages: no password."""
    parts = split_userinfo(url)
    if parts is not None:
        scheme, user, _, rest = parts
        url = f"{scheme}{quote(unquote(user), safe='')}@{rest}" if user else scheme + rest
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    info.pop("password", None)
    host = info.get("host", "local socket")
    return f"{info.get('user', '')}@{host}:{info.get('port', 5432)}/{info.get('dbname', '')}".lstrip("@")


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection, turning every failure into a one-line DatabaseError (never with the password)."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="gongkai")
    except psycopg.ProgrammingError as exc:
        raise DatabaseError(f"bad database URL {redact(url)} ({exc.__class__.__name__}): "
                            f"{scrub(_first_line(exc), url)}") from exc
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to the database {redact(url)}: {scrub(_first_line(exc), url)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every bundled migration, in order."""
    out = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            out.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations under an advisory lock, so concurrent processes don't race."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migration_files():
            if version in done:
                continue
            conn.execute(sql.encode("utf-8"))  # bytes: run as a multi-statement script
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(name)
    return applied_now


def open_database(url: str | None = None) -> tuple[str, psycopg.Connection]:
    """Resolve, connect and migrate: what every command does first."""
    url = url or resolve_database_url()
    conn = connect(url)
    try:
        migrate(conn)
    except psycopg.Error as exc:
        conn.close()
        raise DatabaseError(f"cannot prepare the schema in {redact(url)}: {_first_line(exc)}") from exc
    for hook in _AFTER_OPEN:
        try:
            with conn.transaction():
                hook(conn)
        except psycopg.OperationalError as exc:
            conn.close()
            raise DatabaseError(f"the database {redact(url)} went away: {_first_line(exc)}") from exc
        except psycopg.Error as exc:
            logger.warning("%s skipped: %s", getattr(hook, "__name__", hook), scrub(_first_line(exc), url))
    return url, conn
