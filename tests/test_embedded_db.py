"""The embedded PostgreSQL gongkai starts when DATABASE_URL is unset: a real server, no mocks.

One server per module (initdb costs about a second); the tests share it in order, and the module
stops it at the end so no postmaster outlives the test run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from gongkai.db.embedded import (
    EmbeddedPostgresError,
    ensure_embedded_postgres,
    stop_embedded_postgres,
)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # Not under pytest's basetemp: another pytest session on the machine resets pytest-of-<user> to 0700,
    # and the server (run as the `pgserver` user when we are root) then loses its way to the data directory.
    home = Path(tempfile.mkdtemp(prefix="gongkai-embedded-"))
    path = home / "pgdata"
    yield path
    stop_embedded_postgres(path)
    shutil.rmtree(home, ignore_errors=True)


def test_concurrent_first_start_from_two_processes(data_dir: Path) -> None:
    """A crawl and an ingest launched together must both get the one server, not race initdb."""
    code = (
        "import sys; from pathlib import Path; "
        "from gongkai.db.embedded import ensure_embedded_postgres as e; print(e(Path(sys.argv[1])))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    urls = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert urls[0] == urls[1]
    # The server outlives the processes that started it.
    with psycopg.connect(urls[0]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("gongkai",)


def test_round_trips_chinese_text(data_dir: Path) -> None:
    url = ensure_embedded_postgres(data_dir)
    text = "乡镇2024年工作总结和2025年工作计划（公开）"
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO t (body) VALUES (%s)", [text])
        assert conn.execute("SELECT body FROM t WHERE body LIKE %s", ["%工作计划%"]).fetchone() == (text,)
        assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)


def test_reuse_is_fast_and_stable(data_dir: Path) -> None:
    url = ensure_embedded_postgres(data_dir)
    started = time.perf_counter()
    again = ensure_embedded_postgres(data_dir)
    assert time.perf_counter() - started < 0.5
    assert again == url


def test_concurrent_threads_while_running(data_dir: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        urls = set(pool.map(lambda _: ensure_embedded_postgres(data_dir), range(8)))
    assert len(urls) == 1


def test_stop_then_restart_keeps_data(data_dir: Path) -> None:
    url = ensure_embedded_postgres(data_dir)
    stop_embedded_postgres(data_dir)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    stop_embedded_postgres(data_dir)  # stopping a stopped server is a no-op
    assert ensure_embedded_postgres(data_dir) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] >= 1


def test_deep_directory_uses_short_socket_dir(tmp_path: Path) -> None:
    """Unix socket paths are capped near 107 bytes; a deep project must still work."""
    deep = tmp_path.joinpath(*["很深的项目目录" * 2] * 5) / "pgdata"
    try:
        url = ensure_embedded_postgres(deep)
        host = psycopg.conninfo.conninfo_to_dict(url)["host"]
        assert len((host + "/.s.PGSQL.5432").encode()) <= 107
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        stop_embedded_postgres(deep)


def test_foreign_directory_is_a_clear_error(tmp_path: Path) -> None:
    not_pgdata = tmp_path / "pgdata"
    not_pgdata.mkdir()
    (not_pgdata / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError, match="not a PostgreSQL data directory"):
        ensure_embedded_postgres(not_pgdata)


def test_unusable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EmbeddedPostgresError, match="cannot create"):
        ensure_embedded_postgres(blocker / "pgdata")


def test_one_database_per_user_wherever_a_command_runs(tmp_path: Path) -> None:
    """`cd /tmp && gongkai export` used to start a new, empty cluster in /tmp/.gongkai. The embedded database
    now lives in the user's data directory: the same from every directory; `gongkai db` says where and
    stops it."""
    home = Path(tempfile.mkdtemp(prefix="gongkai-xdg-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GONGKAI_HOME")}
    env["XDG_DATA_HOME"] = str(home)
    try:
        urls = []
        for cwd in (tmp_path / "a", tmp_path / "b"):
            cwd.mkdir()
            done = subprocess.run([sys.executable, "-m", "gongkai", "db", "url"], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr
            urls.append(done.stdout.strip())
            assert not (cwd / ".gongkai").exists()
        assert urls[0] == urls[1] and str(home / "gongkai" / "pgdata") in urls[0]
        where = subprocess.run([sys.executable, "-m", "gongkai", "db", "where"], env=env, capture_output=True,
                               text=True, timeout=60)
        assert where.stdout.strip() == str(home / "gongkai" / "pgdata")
        with psycopg.connect(urls[0]) as conn:
            assert conn.execute("SELECT count(*) FROM reports").fetchone() == (0,)  # migrated
        stop = subprocess.run([sys.executable, "-m", "gongkai", "db", "stop"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert stop.returncode == 0 and "stopped" in stop.stderr, stop.stderr
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(urls[0], connect_timeout=3).close()
    finally:
        stop_embedded_postgres(home / "gongkai" / "pgdata")
        shutil.rmtree(home, ignore_errors=True)
