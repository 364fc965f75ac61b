"""`python -m gongkai_replica`: serve the demo portals until Ctrl-C, printing their column URLs.

`--every-platform` also serves one replica of each other platform (TRS, a generic list, jpaas, the xxgk
信息公开目录), to try `gongkai crawl URL` / `gongkai sites add URL` detection offline, and the GBK TRS
portal whose reports are attachments (a scanned PDF, a .jpg, an .xlsx; gongkai_replica/attached.py).
`--counties` serves the four replica counties with their whole 政务公开 navigation instead (one per platform),
to try `gongkai discover`.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable
from typing import Any

from gongkai_replica import attached
from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gongkai_replica", description=__doc__)
    ap.add_argument("--json", action="store_true", help="print {site: [listing urls]} as one JSON line")
    ap.add_argument("--every-platform", action="store_true",
                    help="also serve a TRS, a generic, a jpaas and an xxgk replica portal")
    ap.add_argument("--counties", action="store_true",
                    help="serve the four replica counties with their navigation (home pages) instead")
    args = ap.parse_args(argv)
    if args.counties:
        from gongkai_replica.navigation import build_counties, home_url

        return _serve_counties(build_counties(), home_url)
    sites = [*build_demo_sites(), attached.jcms_site(broken=False)]  # what `gongkai demo` crawls
    if args.every_platform:
        from gongkai_replica import generic, jpaas, trs, xxgk

        sites += [trs.build_site(), generic.build_site(), jpaas.build_site(), xxgk.build_site(), attached.trs_site()]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ReplicaServer(sites) as srv:
        urls = {name: srv.listing_urls(name) for name in srv.sites}
        if args.json:
            print(json.dumps(urls, ensure_ascii=False), flush=True)
        else:
            for name, site in srv.sites.items():
                n = len(site.articles())
                print(f"{name:8s} {srv.base_url(name)}  {site.site_name}  ({n} articles)")
                for u in urls[name]:
                    print(f"    {u}")
            print("serving; Ctrl-C to stop", flush=True)
        _wait(stop)
    return 0


def _serve_counties(sites: list, home_url: Callable[[Any], str]) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ReplicaServer(sites) as srv:
        for site in srv.sites.values():
            print(f"{site.platform:6s} {home_url(site)}  {site.site_name}", flush=True)
        print("serving; Ctrl-C to stop", flush=True)
        _wait(stop)
    return 0


def _wait(stop: threading.Event) -> None:
    """Until SIGTERM (sets `stop`) or Ctrl-C."""
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
