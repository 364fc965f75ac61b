"""A `gongkai serve` soak on an accelerated schedule (issue 24): days of a daemon's life in minutes.

Three replica sites crawled every few seconds (a routine recrawl each time, a new article now and then),
ingest every second, the readers' web app asked a search every few seconds; the service's resident memory
(VmRSS of the serve process, crawls are subprocesses of their own) sampled all along. What is judged: RSS
after warm-up against RSS at the end (flat, or the slope per 1,000 crawls), and that every crawl ended ok.

    .venv/bin/python -m bench soak            # 8 minutes
    .venv/bin/python -m bench soak --quick    # 25 seconds (a new article every 10 s)
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from bench.__main__ import drop_database, scratch_database


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(path: Path, server, sites, port: int, interval: str) -> None:
    blocks = []
    for site in sites:
        listings = "\n".join(f"      - {u}" for u in server.listing_urls(site.name))
        blocks.append(f"  - name: {site.name}\n    schedule: {{interval: {interval}, jitter: 0}}\n    delay: 0\n"
                      f"    refresh: 1h\n    listings:\n{listings}\n")
    path.write_text(f"ingest_interval: 1s\nshutdown_timeout: 20s\nhttp: {{host: 127.0.0.1, port: {port}}}\n"
                    "max_parallel_crawls: 3\nsites:\n" + "".join(blocks), encoding="utf-8")


def soak(minutes: float, interval: str = "3s", new_every: int = 30) -> dict:
    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.server import ReplicaServer
    from gongkai_replica.text import make_paragraphs

    sites = [s for s in build_demo_sites() if s.name in ("qujiang", "taishun", "wuyi")]
    database_url = scratch_database()
    samples: list[tuple[float, float]] = []
    searches = 0
    try:
        with ReplicaServer(sites) as server, tempfile.TemporaryDirectory() as tmp:
            port, web = _free_port(), _free_port()
            config = Path(tmp) / "sites.yaml"
            _config(config, server, sites, port, interval)
            env = {**os.environ, "DATABASE_URL": database_url, "GONGKAI_WEB_ADDR": f"127.0.0.1:{web}",
                   "GONGKAI_LOG_FORMAT": "json"}
            log = Path(tmp) / "serve.log"
            with log.open("w") as out:
                proc = subprocess.Popen([sys.executable, "-m", "gongkai", "serve", "--config", str(config)],
                                        stdout=out, stderr=out, env=env, stdin=subprocess.DEVNULL)
            started = time.monotonic()
            end = started + minutes * 60
            added = 0
            while time.monotonic() < end and proc.poll() is None:
                samples.append((time.monotonic() - started, _rss_mb(proc.pid)))
                elapsed = time.monotonic() - started
                if int(elapsed) // new_every > added:  # a new article every 30 s: the recrawls find and store it
                    added += 1
                    site = sites[added % len(sites)]
                    column = site.columns[0]
                    article = copy.deepcopy(max(column.articles, key=lambda a: a.pub_date))
                    article.article_id += 7919 + added
                    article.pub_date = datetime(2026, 12, 1) + timedelta(hours=added)
                    article.title = f"大洲镇{2030 + added}年工作总结"
                    article.paragraphs = make_paragraphs(random.Random(added), "001", "大洲镇", 2030 + added)
                    server.add_article(site.name, column.column_id, article)
                try:
                    query = urllib.parse.urlencode({"q": "工作", "limit": 5})
                    with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/reports?{query}", timeout=10) as resp:
                        searches += resp.status == 200
                except OSError:
                    pass
                time.sleep(5)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            crawls: dict[str, int] = {}
            for line in log.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("job", "").startswith("crawl:") and record.get("status"):
                    crawls[record["status"]] = crawls.get(record["status"], 0) + 1
    finally:
        drop_database(database_url)
    warm = [rss for t, rss in samples if t >= min(60.0, minutes * 30)] or [rss for _, rss in samples]
    total = sum(crawls.values())
    first, last = warm[0], warm[-1]
    return {"minutes": minutes, "crawls": crawls, "searches_ok": searches, "exit_code": code,
            "rss_mb_after_warmup": round(first, 1), "rss_mb_end": round(last, 1), "rss_mb_max": round(max(warm), 1),
            "rss_growth_mb_per_1000_crawls": round((last - first) / max(total, 1) * 1000, 1),
            "samples": len(samples)}


def run(results: dict, quick: bool) -> None:
    results["soak"] = soak(25 / 60, new_every=10) if quick else soak(8.0)
    print(json.dumps(results["soak"], ensure_ascii=False), file=sys.stderr)
