"""`gongkai serve`'s discovery, as an operator runs it: a replica county portal, `gongkai discover HOME --add`,
then `gongkai serve`, which crawls the columns found with no hand edit, and whose own discovery (a short
interval here) takes in a column the portal opens later and reports one it deletes (gongkai_replica/
navigation.py changes the portal under the running service, as portals rearrange their trees).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import threading
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from gongkai.app.discover import Discovery, ReportColumn
from gongkai.app.serve.alarms import ExtractionAlarms
from gongkai.app.serve.discovery import Discoveries, add_listings, compare
from gongkai.app.serve.http import Metrics
from gongkai.app.serve.jobs import Jobs
from gongkai.config import load_config
from gongkai.crawler import discovery as nav
from gongkai.crawler import runs
from gongkai.urls import host_key
from gongkai_replica.navigation import (
    add_report_column,
    build_county,
    expected,
    home_url,
    remove_column,
    town_path,
)
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai
from tests.test_serve import Service, free_port, get, query, wait_for

TOWN_WITHOUT_COLUMN = "汛桥镇"  # scenario 5 of the jcms county: no report column, until it opens one


def county_config(path: Path, home: str, port: int) -> None:
    path.write_text(f"""\
# Our counties: keep this comment
ingest_interval: 2s
shutdown_timeout: 20s
http: {{host: 127.0.0.1, port: {port}}}
discovery: {{interval: 4s, jitter: 0}}   # weekly in real life
defaults: {{delay: 0, schedule: {{interval: 1h, jitter: 0}}}}
sites:
  - name: linhai   # a county portal whose columns nobody has listed yet
    region: {{province: 浙江省, city: 台州市, county: 临海市}}
    home: {home}
    platform: unknown
""", encoding="utf-8")


def article_urls(replica: ReplicaServer, site, column) -> list[str]:
    return [replica.article_url(site.name, a, column.column_id) for a in column.articles]


def stored(database_url: str, urls: list[str]) -> int:
    return query(database_url, "SELECT count(*) FROM report_urls WHERE url = ANY(%s)", urls)[0][0]


def test_discover_add_then_serve_crawls_them_and_its_own_discovery_follows_the_portal(database_url, tmp_path):
    site = build_county("jcms")
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        home = home_url(site)
        county_config(config, home, port)
        truth = [e for e in expected(site) if e.kind == "report"]
        found = gongkai("discover", home, "--delay", "0", "--add", "--config", str(config), timeout=120)
        assert found.returncode == 0, found.stderr
        listed = {nav.column_key(u) for s in load_config(config).sites for u in s.listings}
        assert listed == {nav.column_key(site.base_url + e.path) for e in truth}

        report_columns = [c for t in site.options["navigation"].towns for c in t.columns if c.kind == "report"]
        urls = [u for c in report_columns for u in article_urls(replica, site, c.column)]
        assert len(urls) > 40
        service = Service(config, database_url, log)
        try:
            # No hand edit: every column discover --add found is crawled and its reports stored.
            wait_for("every discovered column's reports", lambda: stored(database_url, urls) == len(urls), service,
                     timeout=120)
            # The service's own discovery ran too, and found every column configured: nothing new, nothing gone.
            wait_for("a discovery run", lambda: query(
                database_url, "SELECT count(*) FROM discovery_runs WHERE site = 'linhai' AND status = 'ok'")[0][0],
                service, timeout=60)
            states = query(database_url, "SELECT state, count(*) FROM discovered_columns GROUP BY 1")
            assert states == [("found", len(truth))], states

            # The portal opens a 计划总结 column for a town that had none: it joins the crawl, in the file.
            opened = replica.mutate(lambda: add_report_column(site, TOWN_WITHOUT_COLUMN))
            new_urls = article_urls(replica, site, opened.column)
            wait_for("the new column's reports", lambda: stored(database_url, new_urls) == len(new_urls), service,
                     timeout=90)
            new_url = site.base_url + f"/col/col{opened.column.column_id}/index.html"
            text = config.read_text(encoding="utf-8")
            assert text.startswith("# Our counties: keep this comment\n") and "# weekly in real life" in text
            linhai = load_config(config).site("linhai")
            assert new_url in linhai.listings, text
            assert f"{new_url}   # {TOWN_WITHOUT_COLUMN} 计划总结 (found by serve's discovery" in text

            # The portal deletes a column: reported vanished, still configured (a person decides).
            gone = next(c for c in report_columns if c.column.articles and c.group == "")
            gone_url = site.base_url + f"/col/col{gone.column.column_id}/index.html"
            replica.mutate(lambda: remove_column(site, gone.column.column_id))
            row = wait_for("the deleted column reported", lambda: query(
                database_url, "SELECT site, why FROM discovered_columns WHERE url = %s AND state = 'vanished'",
                gone_url), service, timeout=60)
            assert row[0][1] == "HTTP 404", row
            owner = row[0][0]
            assert any(nav.column_key(u) == nav.column_key(gone_url)
                       for u in load_config(config).site(owner).listings)

            shown = gongkai("status", "--config", str(config), database_url=database_url, timeout=60)
            assert shown.returncode == 0, shown.stderr
            lines = shown.stdout.splitlines()
            assert any(line.startswith("discovery (every 4s):") for line in lines), shown.stdout
            assert any(line.split()[:1] == ["linhai"] and " ok " in line for line in lines), shown.stdout
            assert f"  {owner}: {gone.town} {gone.name} {gone_url} (HTTP 404, since " in shown.stdout, shown.stdout

            def metrics() -> str | None:
                status, body = get(f"http://127.0.0.1:{port}/metrics")
                return body if status == 200 and f'gongkai_discovery_columns{{site="{owner}",state="vanished"}} 1.0' \
                    in body else None

            body = wait_for("the vanished column in /metrics", metrics, service, timeout=30)
            assert re.search(r'gongkai_discovery_last_run_timestamp_seconds\{site="linhai"\} 1\.\d+e\+09', body), body
            health = json.loads(get(f"http://127.0.0.1:{port}/healthz")[1])
            assert "discover:linhai" in health["next_runs"] and "discoveries_running" in health
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()
    logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert any("discovery of linhai ok" in e.get("message", "") for e in logged), log.read_text()[-3000:]
    # Never beside a crawl of the same portal: each holds the host's lock for its whole recorded run.
    overlaps = query(database_url, """SELECT d.id, c.id FROM discovery_runs d JOIN crawl_runs c
                                      ON tstzrange(d.started_at, d.finished_at) && tstzrange(c.started_at, c.finished_at)""")
    assert not overlaps, overlaps
    assert query(database_url, "SELECT count(*) FROM discovery_runs WHERE status = 'ok'")[0][0] >= 3
    assert query(database_url, "SELECT count(*) FROM crawl_runs WHERE status = 'ok'")[0][0] >= 2


def _no_dac_override() -> None:
    """In the serve child: root loses CAP_DAC_OVERRIDE, so a read-only file is read-only for it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 1, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_DAC_OVERRIDE: gone from the next exec on
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_sites_file_serve_cannot_write_is_one_line_and_the_columns_are_crawled_from_memory(database_url, tmp_path):
    site = build_county("jcms")
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        county_config(config, home_url(site), port)
        config.chmod(0o444)
        before = config.read_text(encoding="utf-8")
        report_columns = [c for t in site.options["navigation"].towns for c in t.columns if c.kind == "report"]
        urls = [u for c in report_columns for u in article_urls(replica, site, c.column)]
        service = Service(config, database_url, log, preexec_fn=_no_dac_override if os.geteuid() == 0 else None)
        try:
            wait_for("every discovered column's reports", lambda: stored(database_url, urls) == len(urls), service,
                     timeout=120)
            assert query(database_url, "SELECT DISTINCT site FROM reports") == [("linhai",)]
            assert query(database_url, "SELECT DISTINCT in_file FROM discovered_columns") == [(False,)]
            shown = gongkai("status", "--config", str(config), database_url=database_url, timeout=60)
            assert shown.returncode == 0, shown.stderr
            assert "columns crawled from memory (the service could not write them into the sites file; add them):" \
                in shown.stdout and f"  linhai: {site.base_url}/col/col" in shown.stdout, shown.stdout
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()
        assert config.read_text(encoding="utf-8") == before
        said = [json.loads(line)["message"] for line in log.read_text(encoding="utf-8").splitlines()]
        unwritable = [m for m in said if "not written" in m]
        assert len(unwritable) == 1 and str(config) in unwritable[0] and "crawled from memory" in unwritable[0], said

        # Restarted with discovery off and its crawl due: it crawls them from the database's record (the file still
        # cannot take them), not from a new discovery.
        config.chmod(0o644)
        config.write_text(before.replace("discovery: {interval: 4s, jitter: 0}", "discovery: never"), encoding="utf-8")
        config.chmod(0o444)
        query(database_url, "UPDATE service_jobs SET last_started_at = now() - interval '2 hours' WHERE job = %s",
              "crawl:linhai")
        runs_before = query(database_url, "SELECT max(id) FROM crawl_runs")[0][0]
        discoveries = query(database_url, "SELECT count(*) FROM discovery_runs")[0][0]
        service = Service(config, database_url, log, preexec_fn=_no_dac_override if os.geteuid() == 0 else None)
        try:
            listed = wait_for("the restart's crawl", lambda: query(
                database_url, "SELECT listing_urls FROM crawl_runs WHERE id > %s AND status = 'ok'", runs_before),
                service, timeout=90)[0][0]
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()
        truth = {nav.column_key(site.base_url + e.path) for e in expected(site) if e.kind == "report"}
        assert {nav.column_key(u) for u in listed} == truth
        assert query(database_url, "SELECT count(*) FROM discovery_runs")[0][0] == discoveries
        assert "crawled from the database's record" in log.read_text(encoding="utf-8")


# -- the sites file edits and the comparison, without a service ------------------------------------------------

def _column(url: str, town: str = "朱溪镇", moved_from: str | None = None) -> ReportColumn:
    return ReportColumn(town=town, name="计划总结", url=url, platform="jcms", rows=3, newest="2024-08-05",
                        moved_from=moved_from)


@pytest.mark.parametrize("listings", ["", "    listings: []   # none yet\n",
                                      "    listings: [http://h.cn/col/col1/index.html]\n",
                                      "    listings:\n      - http://h.cn/col/col1/index.html   # by hand\n"])
def test_add_listings_puts_the_columns_in_the_named_site_and_keeps_the_rest(tmp_path, listings):
    config = tmp_path / "sites.yaml"
    config.write_text("# head\nsites:\n  - name: other\n    listings: [http://x.cn/col/col9/index.html]\n"
                      f"  - name: county   # home only\n    home: http://h.cn/\n{listings}"
                      "    region: {county: 仙居县}\n  - name: last\n    home: http://z.cn/\n", encoding="utf-8")
    add_listings(config, "county", [_column("http://h.cn/col/col2/index.html")])
    text = config.read_text(encoding="utf-8")
    sites = {s.name: s for s in load_config(config).sites}
    had = ("http://h.cn/col/col1/index.html",) if "col1" in listings else ()
    assert sites["county"].listings == (*had, "http://h.cn/col/col2/index.html"), text
    assert sites["county"].region.county == "仙居县" and sites["last"].listings == () and len(sites["other"].listings) == 1
    assert text.startswith("# head\n") and "# home only" in text and ("# by hand" in text) == ("by hand" in listings)
    assert "# 朱溪镇 计划总结 (found by serve's discovery" in text
    assert yaml.safe_load(text)  # still YAML a person can read


def test_compare_knows_a_column_by_any_form_of_its_url_and_whoever_lists_it(tmp_path):
    config = tmp_path / "sites.yaml"
    config.write_text("sites:\n  - name: county\n    home: http://www.h.cn/index.html\n"
                      "  - name: zhuxi\n    listings:\n      - http://h.cn/col/col1/index.html?uid=3&pageNum=2\n"
                      "      - http://h.cn/col/col5/index.html\n      - http://other.cn/col/col7/index.html\n",
                      encoding="utf-8")
    found = Discovery(start_url="http://www.h.cn/index.html", columns=[
        _column("http://www.h.cn/col/col1/index.html"), _column("http://www.h.cn/col/col2/index.html", "白塔镇"),
        _column("http://www.h.cn/col/col6/index.html", moved_from="http://www.h.cn/col/col5/index.html")])
    result = compare(load_config(config), "http://www.h.cn/index.html", found)
    assert list(result.found) == ["http://h.cn/col/col1/index.html?uid=3&pageNum=2"]
    assert result.found["http://h.cn/col/col1/index.html?uid=3&pageNum=2"][0] == "zhuxi"
    assert [c.url for c in result.new] == ["http://www.h.cn/col/col2/index.html", "http://www.h.cn/col/col6/index.html"]
    assert result.missing == {"http://h.cn/col/col5/index.html": "zhuxi"}  # other.cn is not this portal's


def test_a_site_with_no_column_yet_is_not_crawled_and_status_says_so(database_url, tmp_path):
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    config.write_text(f"discovery: never\nhttp: {{host: 127.0.0.1, port: {port}}}\nsites:\n"
                      "  - name: linhai\n    home: http://127.0.0.1:9/index.html\n    platform: unknown\n", encoding="utf-8")
    service = Service(config, database_url, log)
    try:
        health = wait_for("/healthz", lambda: (lambda r: json.loads(r[1]) if r[0] == 200 else None)(
            get(f"http://127.0.0.1:{port}/healthz")), service, timeout=30)
        assert set(health["next_runs"]) == {"ingest"}, health  # nothing to crawl, no discovery
        shown = gongkai("status", "--config", str(config), database_url=database_url, timeout=60)
    finally:
        code, _ = service.stop()
    assert code == 0, service.tail()
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if line.startswith("linhai "))
    assert row.rstrip().endswith("no column yet"), shown.stdout
    assert "discovery (never: `discovery: never` in the sites file):" in shown.stdout
    assert query(database_url, "SELECT job FROM service_jobs ORDER BY job") == [("ingest",)]
    assert "site linhai: no column yet; add its listings" in log.read_text(encoding="utf-8")


def test_discovery_waits_while_a_crawl_holds_the_portal(database_url, tmp_path):
    """The portal's host is locked as a crawl locks it: serve's discovery asks it nothing until it is free."""
    site = build_county("jcms")
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        county_config(config, home_url(site), port)
        holder = psycopg.connect(database_url, autocommit=True)
        runs.lock_hosts(holder, [host_key(home_url(site))])
        service = Service(config, database_url, log)
        try:
            wait_for("the wait logged", lambda: "discovery of linhai waits for" in log.read_text(encoding="utf-8"),
                     service)
            time.sleep(2)
            assert replica.requests == []
            assert query(database_url, "SELECT count(*) FROM discovery_runs")[0][0] == 0
            holder.close()
            wait_for("the discovery", lambda: query(
                database_url, "SELECT count(*) FROM discovery_runs WHERE status = 'ok'")[0][0], service)
            assert replica.requests
        finally:
            holder.close()
            code, _ = service.stop()
        assert code == 0, service.tail()


def test_only_a_conclusive_walk_declares_a_column_vanished_and_says_why(database_url, tmp_path):
    """serve's discovery job run in this process against a replica county whose tree changes between runs."""
    site = build_county("jcms")
    nav_data = site.options["navigation"]
    with ReplicaServer([site]) as replica:
        truth = [e for e in expected(site) if e.kind == "report"]
        config = tmp_path / "sites.yaml"
        config.write_text("discovery: {interval: 1h}\nsites:\n  - name: linhai\n    delay: 0\n"
                          f"    home: {home_url(site)}\n    listings:\n"
                          + "".join(f"      - {site.base_url + e.path}\n" for e in truth), encoding="utf-8")
        loaded, metrics, stopping = load_config(config), Metrics(), threading.Event()
        jobs = Jobs(loaded, database_url, metrics, stopping, ExtractionAlarms(database_url, metrics))
        discoveries = Discoveries(loaded, database_url, metrics, stopping, jobs)

        def states() -> dict[str, tuple[str, str | None]]:
            return {url: (state, why) for url, state, why in query(
                database_url, "SELECT url, state, why FROM discovered_columns")}

        def last_run() -> tuple[str, int, int]:
            return query(database_url, "SELECT status, found, vanished FROM discovery_runs ORDER BY id DESC LIMIT 1")[0]

        discoveries.run("linhai")
        assert last_run() == ("ok", len(truth), 0)
        assert set(states().values()) == {("found", None)} and len(states()) == len(truth)

        top = [c for t in nav_data.towns for c in t.columns if c.kind == "report" and c.group == "" and c.column.articles]
        deleted, unlinked = top[0], top[1]
        deleted_url = site.base_url + f"/col/col{deleted.column.column_id}/index.html"
        unlinked_url = site.base_url + f"/col/col{unlinked.column.column_id}/index.html"
        busy_town = next(t for t in nav_data.towns if t.name not in (deleted.town, unlinked.town)
                         and any(c.kind == "report" for c in t.columns))
        replica.mutate(lambda: remove_column(site, deleted.column.column_id))
        replica.mutate(lambda: remove_column(site, unlinked.column.column_id, page_gone=False))
        replica.mutate(lambda: nav_data.unavailable.add(town_path(nav_data, busy_town)))
        discoveries.run("linhai")  # a town page answered 503: nothing is declared vanished on such a walk
        assert last_run()[0] == "partial" and last_run()[2] == 0
        assert set(states().values()) == {("found", None)} and len(states()) == len(truth)

        replica.mutate(lambda: nav_data.unavailable.clear())
        replica.clear_requests()
        discoveries.run("linhai")
        assert last_run() == ("ok", len(truth) - 2, 2)
        now = states()
        assert now[deleted_url] == ("vanished", "HTTP 404") and now[unlinked_url] == ("vanished",
                                                                                        "not linked from the portal any more")
        assert {v for u, v in now.items() if u not in (deleted_url, unlinked_url)} == {("found", None)}
        assert load_config(config).site("linhai").listings == loaded.site("linhai").listings  # a person decides
        # Politeness: one request per page of the walk, plus one per vanished column to say why.
        paths = [r.path for r in replica.requests]
        assert len(paths) == len(set(paths)) and paths.count(f"/col/col{deleted.column.column_id}/index.html") == 1

        replica.mutate(lambda: remove_column(site, top[2].column.column_id, page_gone=False))
        replica.mutate(lambda: nav_data.towns[[t.name for t in nav_data.towns].index(unlinked.town)].columns.append(unlinked))
        replica.mutate(lambda: nav_data.cache.clear())
        discoveries.run("linhai")  # linked again: found again
        assert states()[unlinked_url] == ("found", None)
        body = metrics.render().decode()
        assert 'gongkai_discovery_columns{site="linhai",state="vanished"} 2.0' in body, body
        assert 'gongkai_discovery_runs_total{site="linhai",status="partial"} 1.0' in body


def test_a_column_added_to_the_file_beside_the_service_is_not_added_twice(database_url, tmp_path):
    """`gongkai discover --add` run while serve runs: serve's next discovery finds the column new to it, and
    leaves the file as it is (one entry per column, still a valid file)."""
    site = build_county("jcms")
    with ReplicaServer([site]):
        truth = [e for e in expected(site) if e.kind == "report"]
        config = tmp_path / "sites.yaml"
        config.write_text("sites:\n  - name: linhai\n    delay: 0\n"
                          f"    home: {home_url(site)}\n    listings:\n"
                          + "".join(f"      - {site.base_url + e.path}\n" for e in truth[1:]), encoding="utf-8")
        loaded, metrics, stopping = load_config(config), Metrics(), threading.Event()
        jobs = Jobs(loaded, database_url, metrics, stopping, ExtractionAlarms(database_url, metrics))
        discoveries = Discoveries(loaded, database_url, metrics, stopping, jobs)
        add_listings(config, "linhai", [_column(site.base_url + truth[0].path, truth[0].town)])  # by hand, meanwhile
        before = config.read_text(encoding="utf-8")
        discoveries.run("linhai")
        assert config.read_text(encoding="utf-8") == before
        assert len(load_config(config).site("linhai").listings) == len(truth)
        assert query(database_url, "SELECT state, in_file FROM discovered_columns WHERE url = %s",
                     site.base_url + truth[0].path) == [("new", True)]
        assert discoveries.config.site("linhai").listings == load_config(config).site("linhai").listings
