"""Shared by the fault tests: run the CLI with short retries, read what was stored, check the invariants.

The invariants every fault must keep (issue 5):
- no staged page lost: every staged page is ingested (done/skipped/error), none left pending;
- no report lost or duplicated: each listed, crawlable article is one report (exactly), or its URL is
  left `failed` in the frontier so the next crawl fetches it again;
- a clear log line, and the run continues or fails with a clear one-line error.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import psycopg

from gongkai_replica.server import ReplicaServer

FAST_ENV = {"GONGKAI_BACKOFF_BASE": "0.05", "GONGKAI_BACKOFF_MAX": "0.5", "RETRY_TIMES": "3",
            "DOWNLOAD_TIMEOUT": "3"}


def gongkai_env(database_url: str | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, **FAST_ENV, **extra}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def run(*args: str, database_url: str | None, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gongkai", *args], capture_output=True, text=True,
                          env=gongkai_env(database_url, **extra_env), timeout=timeout, stdin=subprocess.DEVNULL)


def spawn(*args: str, database_url: str, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gongkai", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=gongkai_env(database_url, **extra_env), stdin=subprocess.DEVNULL)


def crawl(*urls: str, database_url: str, flags: tuple[str, ...] = (), timeout: float = 120,
          **extra_env: str) -> subprocess.CompletedProcess:
    return run("crawl", *urls, "--delay", "0", "--concurrency", "4", *flags, database_url=database_url,
               timeout=timeout, **extra_env)


def gongkai_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("gongkai:")]


def export(database_url: str) -> list[dict]:
    result = run("export", database_url=database_url)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def reports_by_url(database_url: str) -> dict[str, dict]:
    return {url: report for report in export(database_url) for url in report["urls"]}


def frontier(database_url: str) -> dict[str, tuple[str, str | None]]:
    """url -> (state, last_error)"""
    with psycopg.connect(database_url) as conn:
        return {url: (state, error) for url, state, error in
                conn.execute("SELECT url, state, last_error FROM crawl_urls")}


def staged(database_url: str) -> list[tuple[str, int, str, str | None, int | None]]:
    """(url, status, ingest_state, ingest_note, report_id) of every staged page."""
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT url, status, ingest_state, ingest_note, report_id FROM staged_pages ORDER BY id"
                            ).fetchall()


def check_invariants(database_url: str) -> None:
    """Nothing pending, nothing doubled: what every fault test asserts at the end."""
    with psycopg.connect(database_url) as conn:
        pending = conn.execute("SELECT count(*) FROM staged_pages WHERE ingest_state = 'pending'").fetchone()[0]
        assert pending == 0, f"{pending} staged pages never ingested"
        # A report file's page is done with no report of its own (its text went into its article's).
        orphans = conn.execute("""SELECT url FROM staged_pages WHERE ingest_state = 'done' AND report_id IS NULL
                                  AND status NOT IN (404, 410) AND ingest_note IS DISTINCT FROM 'files'""").fetchall()
        assert not orphans, f"pages marked done without a report: {orphans[:3]}"
        doubled = conn.execute("""SELECT body_hash, count(*) FROM reports GROUP BY body_hash HAVING count(*) > 1"""
                               ).fetchall()
        assert not doubled, f"{len(doubled)} report bodies stored twice"
        seqs = [row[0] for row in conn.execute("SELECT seq FROM reports")]
        assert len(seqs) == len(set(seqs)), "duplicate seq"


def staged_once(database_url: str, urls: list[str]) -> None:
    counts = Counter(url for url, status, *_ in staged(database_url) if status == 200)
    wrong = {url: counts.get(url, 0) for url in urls if counts.get(url, 0) != 1}
    assert not wrong, f"pages staged other than once: {list(wrong.items())[:5]}"


class TcpProxy:
    """A loopback TCP proxy that a test can cut (every connection dropped, new ones refused) and restore."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self.host = host
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._up = False
        self.delay = 0.0  # seconds added before each reply of the database reaches the client (a slow server)
        # (after, then): on the first session that sends `after`, the next message containing `then` reaches
        # the server, and the session is reset before the answer comes back (once): with
        # (b"INSERT INTO staged_pages", b"COMMIT"), a staging batch that committed, the crawler never told.
        self.lose_reply: tuple[bytes, bytes] | None = None

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._up = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._up:
                    client.close()
                    upstream.close()
                    continue
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        armed = False
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        raise OSError("closed")
                    if src is b and self.delay:
                        time.sleep(self.delay)
                    (b if src is a else a).sendall(data)
                    lose = self.lose_reply
                    if src is a and lose is not None:
                        if armed and lose[1] in data:
                            self.lose_reply = None
                            time.sleep(0.5)  # the server does the work; its answer is never relayed
                            raise OSError("reply lost")
                        armed = armed or lose[0] in data
        except (OSError, ValueError):
            pass
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """The database 'goes away': established sessions are reset, new connections are refused."""
        with self._lock:
            self._up = False
            conns, self._conns = self._conns, []
            if self._listener is not None:
                try:
                    self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
                except OSError:
                    pass
                self._listener.close()
                self._listener = None
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def restore(self) -> None:
        self.start()

    def stop(self) -> None:
        self.cut()

    def url(self, database_url: str) -> str:
        info = psycopg.conninfo.conninfo_to_dict(database_url)
        info.update(host=self.host, port=str(self.port))
        return psycopg.conninfo.make_conninfo(**info)


class SlowReplica(ReplicaServer):
    """A replica whose pages take a while, counting requests in flight per site."""

    PAUSE = 0.3

    def __init__(self, sites) -> None:
        super().__init__(sites)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self._count_lock = threading.Lock()

    def _route(self, site, method, path, query, form, headers=None):
        with self._count_lock:
            self.in_flight[site.name] += 1
            self.max_in_flight[site.name] = max(self.max_in_flight[site.name], self.in_flight[site.name])
        try:
            time.sleep(self.PAUSE)
            return super()._route(site, method, path, query, form, headers=headers)
        finally:
            with self._count_lock:
                self.in_flight[site.name] -= 1
