"""Ctrl-C or SIGTERM on `gongkai crawl`: it stops, says so, keeps what it staged, does not go on to ingest,
and exits 130 (SIGINT) or 143 (SIGTERM); the run is recorded interrupted and the next crawl resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_crawl_with_its_exit_code_and_no_ingest(database_url, sig, code):
    sites = build_demo_sites()[:1]
    with ReplicaServer(sites) as server:
        urls = server.listing_urls(sites[0].name)
        env = {**os.environ, "DATABASE_URL": database_url}
        proc = subprocess.Popen([sys.executable, "-m", "gongkai", "crawl", *urls, "--delay", "0.3"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # wait until it has staged something
                with psycopg.connect(database_url) as conn:
                    if conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0] >= 3:
                        break
                time.sleep(0.2)
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == code, stderr
    assert f"stopped by {signal.Signals(sig).name}" in stderr, stderr
    assert "ingest:" not in stderr and "Traceback" not in stderr, stderr
    with psycopg.connect(database_url) as conn:
        status = conn.execute("SELECT status FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
        staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM staged_pages WHERE ingest_state = 'pending'").fetchone()[0]
    assert status == "interrupted"
    assert staged >= 3 and pending == staged  # kept, not ingested
