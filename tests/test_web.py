"""The readers' web app and JSON API (gongkai/app/web/), against real PostgreSQL and a real uvicorn.

Reports are written as the store writes them; the search index (migration 0008) is kept by the
database itself, so every test also checks that inserts and updates reach it.
"""

from __future__ import annotations

import psycopg
import pytest

from gongkai.app.web import listen, queries
from gongkai.errors import UserError
from tests.web_helpers import add_report, add_sites, get, get_json, new_version, serve

ZHUXI_TITLE = "朱溪镇2024年上半年工作总结和下半年工作计划"
ZHUXI_BODY = ("2024年是新中国成立75周年，是深入实施“十四五”规划的重要之年，也是朱溪跨越赶超的关键之年。\n"
              "一、上半年工作总结\n"
              "全镇实现地区生产总值增长6.5%，固定资产投资完成3584.27万元，乡村振兴示范带建设有序推进。\n"
              "二、下半年工作计划\n"
              "持续深化“千万工程”，推进强村富民乡村集成改革。")


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url) as conn:
        add_sites(conn)
        yield conn


@pytest.fixture
def corpus(db: psycopg.Connection) -> dict[str, int]:
    ids = {
        "zhuxi": add_report(db, ZHUXI_TITLE, ZHUXI_BODY, publisher="朱溪镇", published="2024-08-05"),
        "hushan": add_report(db, "湖山乡2023年工作总结和2024年工作思路",
                             "2023年，湖山乡坚持以党建为引领，全年GDP增长7.2％，完成招商引资1.2亿元。\n"
                             "2024年工作思路：围绕共同富裕目标，推进乡村振兴。",
                             site="hujiang", publisher="湖山乡", published="2024-01-15"),
        "liucheng": add_report(db, "柳城畲族镇2023年工作总结",
                               "2023年柳城畲族镇聚焦畲乡特色，全年接待游客12万人次，增长６.５％。\n"
                               "做好防汛防台工作，确保安全度汛。",
                               site="liucheng", publisher="柳城畲族镇", published="2023-12-28"),
        "panan": add_report(db, "磐安县某乡2022年工作计划",
                            "2022年计划：推进垃圾分类，完善河长制。乡村建设。村振兴。振兴产业。",
                            site="dongyang", publisher="某乡人民政府", published="2022-02-10"),
        "withdrawn": add_report(db, "朱溪镇2022年工作总结", "2022年朱溪镇乡村振兴工作稳步推进。",
                                publisher="朱溪镇", published="2023-01-05", withdrawn=True),
    }
    return ids


@pytest.fixture
def web(database_url: str, corpus: dict[str, int]):
    with serve(database_url) as base:
        yield base


def search_ids(base: str, **params) -> list[int]:
    status, data = get_json(base, "/api/reports", params)
    assert status == 200, data
    return [item["id"] for item in data["items"]]


def test_search_finds_any_substring_without_word_segmentation(web, corpus):
    assert search_ids(web, q="朱溪镇") == [corpus["zhuxi"]]
    assert search_ids(web, q="溪镇") == [corpus["zhuxi"]]  # across a segmenter's word boundary (朱溪/镇)
    assert sorted(search_ids(web, q="乡村振兴")) == sorted([corpus["zhuxi"], corpus["hushan"]])
    assert sorted(search_ids(web, q="2023年")) == sorted([corpus["hushan"], corpus["liucheng"]])
    # 6.5% is written 6.5% in one report and ６.５％ (full width) in another: the same to a reader.
    assert sorted(search_ids(web, q="6.5%")) == sorted([corpus["zhuxi"], corpus["liucheng"]])
    assert sorted(search_ids(web, q="６.５％")) == sorted([corpus["zhuxi"], corpus["liucheng"]])
    assert search_ids(web, q="7.2%") == [corpus["hushan"]]
    assert search_ids(web, q="gdp") == [corpus["hushan"]]  # letter case does not matter
    assert search_ids(web, q="3584.27万元") == [corpus["zhuxi"]]
    # one character
    assert search_ids(web, q="畲") == [corpus["liucheng"]]
    assert search_ids(web, q="汛") == [corpus["liucheng"]]
    # several terms: all of them
    assert search_ids(web, q="乡村振兴 招商引资") == [corpus["hushan"]]
    assert search_ids(web, q="乡村振兴 不存在的词") == []


def test_a_long_term_must_occur_whole_not_just_its_character_pairs(web, corpus):
    # 磐安's body holds 乡村, 村振 and 振兴, each somewhere, but never 乡村振兴.
    assert corpus["panan"] not in search_ids(web, q="乡村振兴")
    assert corpus["panan"] in search_ids(web, q="村振")


def test_ranked_title_hits_first_then_newest(web, db, corpus):
    older_title_hit = add_report(db, "朱溪镇乡村振兴专项工作总结", "专项工作。", publisher="朱溪镇", published="2020-05-01")
    ids = search_ids(web, q="乡村振兴")
    assert ids == [older_title_hit, corpus["zhuxi"], corpus["hushan"]]  # title hit, then body hits newest first
    status, data = get_json(web, "/api/reports", {"q": "乡村振兴"})
    assert [item["score"] for item in data["items"]] == [1, 0, 0]


def test_items_have_the_documented_fields_and_highlighted_snippets(web, corpus):
    status, data = get_json(web, "/api/reports", {"q": "6.5%", "county": "遂昌县"})
    assert status == 200 and data["next"] is None
    [item] = data["items"]
    assert {"id", "url", "title", "site", "publisher", "published_date", "snippet"} <= set(item)
    assert item["title"] == ZHUXI_TITLE and item["publisher"] == "朱溪镇" and item["site"] == "zhuxi"
    assert item["published_date"] == "2024-08-05" and item["county"] == "遂昌县" and item["city"] == "丽水市"
    assert item["url"].startswith("http://zhuxi.gov.cn/art/")
    [(start, end)] = item["highlights"]
    assert item["snippet"][start:end] == "6.5%"
    # full-width in the text: the highlight covers the original characters
    status, data = get_json(web, "/api/reports", {"q": "6.5%", "site": "liucheng"})
    [item] = data["items"]
    [(start, end)] = item["highlights"]
    assert item["snippet"][start:end] == "６.５％"


def test_filters(web, corpus):
    assert sorted(search_ids(web, city="丽水市")) == sorted([corpus["zhuxi"], corpus["hushan"]])
    assert search_ids(web, county="武义县") == [corpus["liucheng"]]
    assert search_ids(web, town="朱溪镇") == [corpus["zhuxi"]]
    assert search_ids(web, town="某乡人民政府") == [corpus["panan"]]  # a site without a town: its publisher
    assert search_ids(web, year="2023") == [corpus["hushan"], corpus["liucheng"]]
    assert search_ids(web, kind="思路") == [corpus["hushan"]]
    assert search_ids(web, kind="计划", q="乡村") == [corpus["zhuxi"], corpus["panan"]]
    assert search_ids(web, publisher="湖山乡") == [corpus["hushan"]]
    assert search_ids(web, **{"from": "2023-12-01", "to": "2024-01-31"}) == [corpus["hushan"], corpus["liucheng"]]
    assert search_ids(web, q="乡村振兴", city="丽水市", year="2023", kind="总结") == [corpus["hushan"]]
    assert search_ids(web, q="乡村振兴", city="金华市") == []


def test_withdrawn_reports_only_when_asked(web, corpus):
    assert corpus["withdrawn"] not in search_ids(web, q="2022年")
    ids = search_ids(web, q="2022年", include_withdrawn="1")
    assert corpus["withdrawn"] in ids
    status, data = get_json(web, "/api/reports", {"q": "2022年", "include_withdrawn": "1"})
    withdrawn = next(i for i in data["items"] if i["id"] == corpus["withdrawn"])
    assert withdrawn["withdrawn_at"].startswith("2025-03-01")
    status, report = get_json(web, f"/api/reports/{corpus['withdrawn']}")
    assert status == 200 and report["withdrawn_at"]  # still readable by its id


def test_cursor_walks_every_match_once_while_reports_land(web, db, corpus):
    towns = ["朱溪镇", "湖山乡", "柳城畲族镇"]
    original = {add_report(db, f"{towns[n % 3]}{2015 + n % 9}年防汛工作总结", f"第{n}次防汛检查，排查隐患。",
                           published=f"20{15 + n % 9}-0{1 + n % 9}-1{n % 10}") for n in range(23)}
    original |= {corpus["liucheng"]}  # its body speaks of 防汛 too
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"q": "防汛", "limit": "4"}
        if cursor:
            params["cursor"] = cursor
        status, data = get_json(web, "/api/reports", params)
        assert status == 200, data
        seen += [item["id"] for item in data["items"]]
        pages += 1
        # New matching reports land between pages: newer, older and as old as the page's last one.
        for when in ("2030-01-01", "2001-01-01", data["items"][-1]["published_date"] if data["items"] else None):
            add_report(db, f"新到的{pages}号防汛工作总结", "防汛。", published=when)
        cursor = data["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a report was listed twice"
    assert original <= set(seen), f"missed {original - set(seen)}"
    assert pages >= 6


def test_cursor_is_not_offset_based(web, db, corpus):
    status, first = get_json(web, "/api/reports", {"limit": "2"})
    assert first["next"]
    status, second = get_json(web, "/api/reports", {"limit": "2", "cursor": first["next"]})
    add_report(db, "朱溪镇2030年工作计划", "新计划。", published="2030-01-01")  # sorts first
    status, again = get_json(web, "/api/reports", {"limit": "2", "cursor": first["next"]})
    assert again["items"] == second["items"]


def test_report_body_with_script_is_shown_as_text(web, db):
    rid = add_report(db, "朱溪镇<script>alert(1)</script>工作总结",
                     "正文<script>alert('x')</script>段落\n<img src=x onerror=alert(2)>第二段",
                     attachments=[{"name": "附件<b>1</b>.docx", "url": "javascript:alert(3)"}],
                     metadata={"索引号": "<i>1</i>"})
    status, headers, html = get(web, f"/reports/{rid}")
    assert status == 200
    assert "<script>" not in html and "<img" not in html and "<i>1</i>" not in html and "<b>1</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "javascript:" not in html  # a crawled link that is not http(s) is not a link
    assert "script-src" not in headers["content-security-policy"] and "default-src 'none'" in headers[
        "content-security-policy"]
    status, headers, html = get(web, "/", {"q": "alert"})
    assert status == 200 and "<script>" not in html and "&lt;script&gt;" in html
    status, data = get_json(web, "/api/reports", {"q": "alert"})
    assert data["items"][0]["title"] == "朱溪镇<script>alert(1)</script>工作总结"  # JSON carries the text as it is


@pytest.mark.parametrize(("params", "message"), [
    ({"year": "abc"}, "year: 'abc' is not a whole number"),
    ({"year": "20231"}, "year: must be between 1900 and 2999"),
    ({"limit": "1000"}, "limit: must be between 1 and 100"),
    ({"limit": "0"}, "limit: must be between 1 and 100"),
    ({"limit": "-1"}, "limit: '-1' is not a whole number"),
    ({"kind": "报告"}, "kind: '报告' must be one of 总结, 计划, 思路"),
    ({"from": "2024-13-01"}, "from: '2024-13-01' is not a date (YYYY-MM-DD)"),
    ({"from": "2024-02-01", "to": "2024-01-01"}, "from: must not be after to"),
    ({"cursor": "not-a-cursor"}, "cursor: not a cursor this API gave out"),
    ({"cursor": "WzAsIjIwMjQtMDgtMDUiXQ"}, "cursor: not a cursor this API gave out"),  # [0,"2024-08-05"]
    ({"q": "乡" * 101}, "q: at most 100 characters"),
    ({"q": "a b c d e f g h i"}, "q: at most 8 terms"),
    ({"include_withdrawn": "maybe"}, "include_withdrawn: 'maybe' must be 1 or 0"),
    ({"yaer": "2023"}, "unknown parameter 'yaer'"),
    ({"town": "镇" * 201}, "town: at most 200 characters"),
])
def test_bad_parameters_are_a_400_naming_the_parameter(web, params, message):
    status, data = get_json(web, "/api/reports", params)
    assert status == 400
    assert data["error"].startswith(message), data
    status, headers, html = get(web, "/", params)
    assert status == 400 and "text/html" in headers["content-type"]


def test_unknown_or_bad_ids_and_paths(web):
    assert get_json(web, "/api/reports/99999") == (404, {"error": "no report 99999", "status": 404})
    status, data = get_json(web, "/api/reports/abc")
    assert status == 400 and data["error"] == "report id 'abc' is not a whole number"
    status, data = get_json(web, "/api/nothing")
    assert status == 404
    status, data = get_json(web, "/api/sites/nosuchsite")
    assert status == 404 and data["error"] == "no site 'nosuchsite'"
    status, headers, html = get(web, "/reports/99999")
    assert status == 404 and "no report 99999" in html


def test_report_with_urls_versions_and_diff(web, db, corpus):
    rid = corpus["zhuxi"]
    db.execute("INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, 'repost')",
               ("http://www.suichang.gov.cn/art/2024/8/6/art_1_9.html", rid))
    db.commit()
    new_version(db, rid, ZHUXI_TITLE, ZHUXI_BODY.replace("增长6.5%", "增长6.8%") + "\n三、补充说明")
    status, data = get_json(web, f"/api/reports/{rid}")
    assert status == 200
    assert data["title"] == ZHUXI_TITLE and data["version"] == 2 and "增长6.8%" in data["body"]
    assert [u["relation"] for u in data["urls"]] == ["primary", "repost"]
    assert [v["version"] for v in data["versions"]] == [1]
    assert "增长6.5%" in data["versions"][0]["body"]
    assert data["county"] == "遂昌县" and data["index_no"].startswith("11331024734494628R")
    assert data["cite"].startswith(f"朱溪镇. {ZHUXI_TITLE}[EB/OL]. (2024-08-05)[")
    assert data["cite"].endswith(f"]. {data['url']}.")
    # The search index follows the update: the new text is found, the old is not.
    assert search_ids(web, q="6.8%") == [rid]
    assert rid not in search_ids(web, q="6.5%")
    status, headers, html = get(web, f"/reports/{rid}")
    assert status == 200
    assert "版本 1 → 2" in html and "<del>5</del>" in html and "<ins>8</ins>" in html
    assert "<ins>三、补充说明</ins>" in html
    assert "http://www.suichang.gov.cn/art/2024/8/6/art_1_9.html" in html


def test_sites_and_site_page(web, db, corpus):
    db.execute("INSERT INTO crawl_runs (listing_urls, status, site, finished_at, stats)"
               " VALUES ('{}', 'ok', 'zhuxi', now(), '{\"fetched\": 12, \"failed\": 1}')")
    db.commit()
    status, data = get_json(web, "/api/sites")
    by_name = {s["name"]: s for s in data["items"]}
    assert by_name["zhuxi"]["reports"] == 2 and by_name["zhuxi"]["withdrawn"] == 1
    assert by_name["zhuxi"]["last_crawl_status"] == "ok"
    assert by_name["liucheng"]["county"] == "武义县"
    status, site = get_json(web, "/api/sites/zhuxi")
    assert site["last_crawl"]["fetched"] == 12 and site["listings"]
    assert {"year": 2024, "reports": 1} in site["per_year"]
    status, headers, html = get(web, "/sites/zhuxi")
    assert status == 200 and "抓取 12 页，失败 1" in html
    status, headers, html = get(web, "/sites")
    assert status == 200 and "柳城畲族镇" in html


def test_search_page_shows_counts_and_facets(web, corpus):
    status, headers, html = get(web, "/", {"q": "乡村振兴"})
    assert status == 200
    assert '共 <strong>2</strong> 篇包含“乡村振兴”的报告' in html
    assert "<mark>乡村振兴</mark>" in html
    assert 'class="facet-county"' in html and "遂昌县</a> (2)" in html


def test_openapi_and_no_cors(web):
    status, schema = get_json(web, "/api/openapi.json")
    assert schema["openapi"].startswith("3.")
    assert {"/api/reports", "/api/reports/{id}", "/api/sites"} <= set(schema["paths"])
    names = {p["name"] for p in schema["paths"]["/api/reports"]["get"]["parameters"]}
    assert queries.KNOWN_PARAMS == names
    status, headers, _ = get(web, "/api/reports", headers={"Origin": "http://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers


def test_connections_are_read_only(database_url):
    pool = queries.ReadOnlyPool(database_url, size=1)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), pool.transaction() as conn:
            conn.execute("INSERT INTO sites (name) VALUES ('x')")
        with pool.transaction() as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
            assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    finally:
        pool.close()


def test_internal_errors_show_no_details(database_url, corpus, monkeypatch):
    def broken(conn):
        raise RuntimeError("secret detail at /srv/gongkai")

    monkeypatch.setattr(queries, "sites", broken)
    with serve(database_url) as base:
        status, data = get_json(base, "/api/sites")
        assert status == 500 and data == {"error": "internal error (logged on the server)", "status": 500}
        status, headers, html = get(base, "/sites")
        assert status == 500 and "secret" not in html and "Traceback" not in html


def test_a_query_past_the_statement_timeout_is_a_503_saying_so(database_url, corpus, monkeypatch):
    monkeypatch.setattr(queries, "STATEMENT_TIMEOUT_MS", 1000)
    real_search = queries.search

    def slow_search(conn, *args, **kwargs):
        conn.execute("SELECT pg_sleep(3)")
        return real_search(conn, *args, **kwargs)

    monkeypatch.setattr(queries, "search", slow_search)
    with serve(database_url) as base:
        status, data = get_json(base, "/api/reports", {"q": "乡村振兴"})
    assert status == 503 and data["error"] == "the query took longer than 1 s: add filters or longer terms"


def test_database_unreachable_is_503(admin_url):
    url = psycopg.conninfo.make_conninfo(admin_url, dbname="gongkai_no_such_database")
    with serve(url) as base:
        status, data = get_json(base, "/api/reports")
        assert status == 503 and "database" in data["error"] and "Traceback" not in data["error"]


def test_listen_on_a_port_in_use_is_one_line():
    sock = listen("127.0.0.1", 0)
    try:
        with pytest.raises(UserError, match=r"cannot listen on 127\.0\.0\.1:\d+: Address already in use"):
            listen("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


def test_snippet_and_highlights_map_folded_matches_back():
    text, spans = queries.snippet("第一段\n全年增长６.５％，ＧＤＰ总量", ["6.5%", "gdp"])
    assert text == "第一段 全年增长６.５％，ＧＤＰ总量"
    assert [text[s:e] for s, e in spans] == ["６.５％", "ＧＤＰ"]
    text, spans = queries.snippet("㎡面积" * 3, ["m2面"])  # NFKC makes ㎡ two characters
    assert [text[s:e] for s, e in spans] == ["㎡面"] * 3
    long = "前" * 100 + "乡村振兴" + "后" * 200
    text, spans = queries.snippet(long, ["乡村振兴"])
    assert text.startswith("…") and text.endswith("…") and [text[s:e] for s, e in spans] == ["乡村振兴"]


def test_migration_0008_indexes_reports_stored_before_it(database_url):
    """A database an older gongkai left (migrations 1-7, reports in it): migrating makes them searchable."""
    from gongkai.db import migrate

    with psycopg.connect(database_url, autocommit=True) as conn:
        # Back to version 7: what 0008 added goes, the reports stay.
        conn.execute("DROP INDEX reports_search, reports_browse")
        conn.execute("DROP TRIGGER reports_search_text_insert ON reports")
        conn.execute("DROP TRIGGER reports_search_text_update ON reports")
        conn.execute("ALTER TABLE reports DROP COLUMN search_text")
        conn.execute("DROP FUNCTION reports_search_text, gongkai_search_keys, gongkai_search_grams, "
                     "gongkai_search_fold")
        conn.execute("DELETE FROM schema_migrations WHERE version = 8")
        add_sites(conn)
        old = add_report(conn, ZHUXI_TITLE, ZHUXI_BODY, publisher="朱溪镇")
    with psycopg.connect(database_url) as conn:
        assert migrate(conn) == ["0008_search.sql"]
        conn.commit()
    with serve(database_url) as base:
        assert search_ids(base, q="乡村振兴") == [old]
        assert search_ids(base, q="6.5%", county="遂昌县", year="2024", kind="计划") == [old]
