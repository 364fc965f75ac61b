"""Shared by tests/test_web.py and tests/test_web_browser.py: reports written as ingest writes them (the
search trigger of migration 0008 does the rest), and the readers' app served by uvicorn on a free port."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gongkai.ingest.derive import parse_period

SITES = [
    # name, city, county, town
    ("zhuxi", "丽水市", "遂昌县", "朱溪镇"),
    ("hujiang", "丽水市", "遂昌县", "湖山乡"),
    ("liucheng", "金华市", "武义县", "柳城畲族镇"),
    ("dongyang", "金华市", "磐安县", None),
]


def add_sites(conn: psycopg.Connection) -> None:
    for name, city, county, town in SITES:
        conn.execute("INSERT INTO sites (name, province, city, county, town, platform, listings)"
                      " VALUES (%s, '浙江省', %s, %s, %s, 'jcms', %s)",
                      (name, city, county, town, [f"http://{name}.gov.cn/col/col1229311252/index.html"]))
    conn.commit()


def add_report(conn: psycopg.Connection, title: str, body: str, *, site: str = "zhuxi", publisher: str | None = None,
               published: str | None = "2024-08-05", withdrawn: bool = False, url: str | None = None,
               attachments: list[dict] | None = None, metadata: dict | None = None) -> int:
    """A report row as the store writes it (seq from the feed counter; derived period and kinds)."""
    period = parse_period(title)
    seq = conn.execute("UPDATE feed_counter SET seq = seq + 1 RETURNING seq").fetchone()[0]
    digest = hashlib.sha256(f"{title}\n{body}".encode()).digest()
    url = url or f"http://{site}.gov.cn/art/2024/8/5/art_1229311252_{seq}.html"
    rid = conn.execute(
        """INSERT INTO reports (seq, url, site, title, publisher, published_date, body, body_hash, content_hash,
                                attachments, metadata, period_year, period_half, kinds, withdrawn_at, index_no)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (seq, url, site, title, publisher, published, body, digest, digest, Jsonb(attachments or []),
         Jsonb(metadata or {}), period.year, period.half, period.kinds,
         dt.datetime(2025, 3, 1, tzinfo=dt.UTC) if withdrawn else None, f"11331024734494628R/2024-{seq}")).fetchone()[0]
    conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, 'primary')", (url, rid))
    conn.commit()
    return rid


def new_version(conn: psycopg.Connection, rid: int, title: str, body: str) -> None:
    """What the store does when a page changed: keep the old text in report_versions, update the report."""
    old = conn.execute("SELECT version, title, body, updated_at FROM reports WHERE id = %s", (rid,)).fetchone()
    conn.execute("INSERT INTO report_versions (report_id, version, title, body, fields, valid_from)"
                 " VALUES (%s, %s, %s, %s, '{}', %s)", (rid, old[0], old[1], old[2], old[3]))
    seq = conn.execute("UPDATE feed_counter SET seq = seq + 1 RETURNING seq").fetchone()[0]
    conn.execute("UPDATE reports SET title = %s, body = %s, version = version + 1, seq = %s, updated_at = now()"
                 " WHERE id = %s", (title, body, seq, rid))
    conn.commit()


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """The app on 127.0.0.1, a free port, in a thread; yields its base URL."""
    import uvicorn

    from gongkai.app.web import listen
    from gongkai.app.web.app import create_app

    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(create_app(database_url, pool_size=4), log_config=None, access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def get(base: str, path: str, params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, text) of a GET; errors are answers too."""
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def get_json(base: str, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
    status, headers, text = get(base, path, params)
    assert headers["content-type"].startswith("application/json"), headers
    return status, json.loads(text)
