"""Content faults checked in-process (pure functions, no crawl): charset conflicts, hostile XML."""

from __future__ import annotations

import time

from gongkai.crawler.platforms import jcms
from gongkai.ingest.pages import StagedPage, examine_page
from gongkai_replica import faults as F


def _page(body: bytes, ctype: str) -> StagedPage:
    url = "http://127.0.0.100/art/2024/1/1/art_1_1.html"
    return StagedPage(1, url, url, "s", 200, {"Content-Type": [ctype]}, body, None)


def test_header_says_utf8_but_body_is_gbk():
    site = F.fault_site("mislabel", 1)
    server = F.FaultServer(site, F.fault_address(60))
    article = server.column.articles[0]
    html = server.real_page(article).replace("charset=utf-8", "charset=gb2312")
    outcome = examine_page(_page(html.encode("gbk"), "text/html; charset=utf-8"))
    assert outcome.kind != "article" or outcome.fields.title == article.expected.title


def test_billion_laughs_and_xxe_are_inert_in_the_listing_parser(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET")
    state = {"listing_url": "http://127.0.0.100/col/col1/index.html", "end": 10, "per_page": 5, "group_size": 1,
             "proxy_url": jcms.DEFAULT_PROXY, "ajax_param": {}, "total_record": 12}
    for xml in (F.billion_laughs_xml("", 12), F.xxe_xml("", 12, str(secret))):
        started = time.monotonic()
        page = jcms.parse_continuation(xml, state["listing_url"], state)
        assert time.monotonic() - started < 1
        assert all(len(r.title) < 100 and "TOPSECRET" not in r.title for r in page.records)


def test_a_listing_whose_total_keeps_growing_is_bounded():
    site = F.fault_site("grow", 5, per_page=5, group_size=1)
    site.base_url = "http://127.0.0.100"
    rows = "".join(f'<record><![CDATA[<li><a href="/art/2024/1/1/art_1_{{n}}{i}.html">t</a></li>]]></record>'
                   for i in range(5))
    state = {"listing_url": "http://127.0.0.100/col/col1/index.html", "end": 5, "per_page": 5, "group_size": 1,
             "proxy_url": jcms.DEFAULT_PROXY, "ajax_param": {}, "total_record": 10}
    calls = 0
    while state is not None:
        calls += 1
        xml = (f"<datastore><recordset>{rows.replace('{n}', str(calls))}</recordset>"
               f"<totalrecord>{state['end'] + 100}</totalrecord></datastore>")
        page = jcms.parse_continuation(xml, "http://127.0.0.100/module/jpage/dataproxy.jsp", state)
        state = page.next.state if page.next else None
    assert calls <= jcms.MAX_RECORDS // 5 + 1
