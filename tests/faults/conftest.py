"""Fixtures for the fault suite: a module-scoped database (one crawl feeds many checks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from gongkai.db import connect, migrate
from tests.conftest import _with_dbname


@pytest.fixture(scope="module")
def database_url_module(admin_url: str) -> Iterator[str]:
    name = f"gongkai_test_faults_{uuid.uuid4().hex[:10]}"
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
