"""Discovery: requests and seconds `gongkai discover` spends per county, on the replica counties.

One county per platform (gongkai_replica/navigation.py: 18-20 towns and 街道 each, their whole 政务公开
tree, decoys, moved columns). Each is discovered from its home page, in this process, with no delay
(`--delay 0`: the seconds are our own work plus the replica's), then the same walk's cost at the default
politeness is given as requests x the default delay (1 s between two requests to a host, so a county's
discovery is that many seconds of waiting). Requests are counted in the replica's own log, robots.txt
apart; `per_column` = requests / report columns found. Every report column must be found, no decoy.

`python -m bench discover` (once bench/__main__.py lists it) or `python -m bench.discover [--quick]`.
"""

from __future__ import annotations

import json
import sys
import time


def run(results: dict, quick: bool) -> None:
    from gongkai.app.discover import discover
    from gongkai.crawler.discovery import column_key
    from gongkai.crawler.settings import DEFAULT_DELAY
    from gongkai_replica.navigation import build_counties, expected, home_url
    from gongkai_replica.server import ReplicaServer

    rounds = 1 if quick else 3
    out: dict = {}
    with ReplicaServer(build_counties()) as server:
        for site in server.sites.values():
            truth = {column_key(site.base_url + e.path) for e in expected(site) if e.kind == "report"}
            times = []
            for _ in range(rounds):
                server.clear_requests()
                started = time.perf_counter()
                found = discover(home_url(site), delay=0)
                times.append(time.perf_counter() - started)
                log = [r for r in server.requests if r.site == site.name]
            got = {column_key(c.url) for c in found.columns}
            assert got == truth, (site.platform, sorted(truth - got), sorted(got - truth))
            robots = sum(1 for r in log if r.path == "/robots.txt")
            requests = len(log) - robots
            out[site.platform] = {
                "towns": len(site.options["navigation"].towns), "report_columns": len(got),
                "requests": requests, "robots_txt": robots, "per_column": round(requests / max(1, len(got)), 2),
                "seconds_no_delay": round(min(times), 3),
                "seconds_at_default_delay": round(min(times) + requests * DEFAULT_DELAY, 1),
            }
            print(f"bench: discover: {site.platform}: {out[site.platform]}", file=sys.stderr, flush=True)
    results["discover"] = out


if __name__ == "__main__":
    results: dict = {}
    run(results, "--quick" in sys.argv)
    print(json.dumps(results, ensure_ascii=False, indent=1))
