"""Progress a user sees: a bar on a terminal; elsewhere (a log, serve, a pipe) a line per listing page;
`-v` adds what the crawl is doing (retries, hosts), not library chatter."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer


def _crawl(database_url: str, *args: str) -> subprocess.CompletedProcess:
    sites = [s for s in build_demo_sites() if s.name == "qujiang"]  # no faults: a quick crawl
    with ReplicaServer(sites) as server:
        urls = server.listing_urls("qujiang")
        env = {**os.environ, "DATABASE_URL": database_url}
        done = subprocess.run([sys.executable, "-m", "gongkai", *args, "crawl", *urls, "--delay", "0"], env=env,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done, urls


def test_a_line_per_listing_page_when_stderr_is_no_terminal(database_url):
    done, urls = _crawl(database_url)
    lines = [line for line in done.stderr.splitlines() if line.startswith("crawl: ")]
    for url in urls:
        assert any(line.startswith(f"crawl: {url}: listing page 1, ") for line in lines), done.stderr
    assert all(re.search(r"\d+ articles \(\d+ listed, \d+ fetched so far\)$", line) for line in lines), lines
    assert "\x1b[" not in done.stderr  # no bar's control codes in a log


def test_verbose_says_more_about_the_crawl(database_url):
    quiet, _ = _crawl(database_url)
    verbose, _ = _crawl(database_url, "-v")
    assert len(verbose.stderr.splitlines()) > len(quiet.stderr.splitlines())
    assert "gongkai" in verbose.stderr and "DEBUG" not in verbose.stderr
