"""Shared test fixtures: a fresh, migrated PostgreSQL database per test (real server, never mocked).

The admin connection comes from GONGKAI_TEST_ADMIN_URL, else the local server on 127.0.0.1:5432,
else gongkai's own embedded server, so the suite runs on a machine with no PostgreSQL at all.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gongkai.db import connect, migrate

LOCAL_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _admin_url(tmp_root: Path) -> str:
    url = os.environ.get("GONGKAI_TEST_ADMIN_URL")
    if url:
        return url
    try:
        with psycopg.connect(LOCAL_ADMIN, connect_timeout=3):
            return LOCAL_ADMIN
    except psycopg.OperationalError:
        from gongkai.db.embedded import ensure_embedded_postgres

        return ensure_embedded_postgres(tmp_root / "pgdata")


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _admin_url(tmp_path_factory.mktemp("embedded"))


def _with_dbname(url: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture
def database_url(admin_url: str) -> Iterator[str]:
    """A new empty database with gongkai's schema, dropped after the test."""
    name = f"gongkai_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_dbname(admin_url, name)
    with connect(url) as conn:
        migrate(conn)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url) as conn:
        yield conn
