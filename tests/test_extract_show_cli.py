"""`gongkai extract` (one page through decode and extraction, no crawl, no database) and `gongkai show` (one
stored report in the terminal), as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai, one_line_error

FIXTURES = Path(__file__).parent / "fixtures" / "jcms"


def test_extract_a_saved_page_prints_its_fields_and_body():
    page = FIXTURES / "000_xianju_zhuxi.html"
    meta = json.loads((FIXTURES / "000_xianju_zhuxi.meta.json").read_text(encoding="utf-8"))
    expected = json.loads((FIXTURES / "000_xianju_zhuxi.expected.json").read_text(encoding="utf-8"))
    as_json = gongkai("extract", str(page), "--url", meta["url"], "--json", database_url="postgresql://x@127.0.0.1:1/none")
    assert as_json.returncode == 0, as_json.stderr  # no database needed: a bad DATABASE_URL is never touched
    fields = json.loads(as_json.stdout)
    for key in ("title", "body", "index_no", "publisher", "published_date"):
        assert fields[key] == expected[key], key
    text = gongkai("extract", str(page), "--url", meta["url"])
    assert text.returncode == 0
    assert f"标题: {expected['title']}" in text.stdout and f"索引号: {expected['index_no']}" in text.stdout
    assert text.stdout.rstrip().endswith(expected["body"].splitlines()[-1])


def test_extract_a_url_fetches_it_once_politely():
    sites = build_demo_sites()[:1]
    with ReplicaServer(sites) as server:
        site = sites[0]
        column = site.columns[0]
        article = next(a for a in column.articles if not a.withdrawn and not a.private)
        url = server.article_url(site.name, article, column.column_id)
        result = gongkai("extract", url, "--json")
        requests = [r.path for r in server.requests if r.site == site.name]
    assert result.returncode == 0, result.stderr
    fields = json.loads(result.stdout)
    assert fields["title"] == article.expected_on_page.title and fields["body"] == article.expected_on_page.body
    assert requests[0] == "/robots.txt" and len(requests) == 2


def test_extract_bad_input_is_one_line():
    missing = gongkai("extract", "/nonexistent/page.html")
    assert missing.returncode == 2 and "neither an http(s) URL nor a file" in one_line_error(missing)
    refused = gongkai("extract", "http://127.0.0.1:9/art/1.html")
    assert refused.returncode == 1 and "127.0.0.1:9" in one_line_error(refused)


def test_show_a_report_by_id_or_url_with_its_urls_and_versions(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        rid = conn.execute(
            "INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash, index_no, publisher, version)"
            " VALUES (1, 'http://127.0.0.9/art/1.html', 'xianju', '朱溪镇2023年工作总结', '一、主要工作\n增长6.5%。',"
            " '\\x00', '\\x00', '11331024734494628R/2024-129893', '朱溪镇', 2) RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES ('http://127.0.0.9/art/1.html', %s,"
                     " 'primary'), ('http://127.0.0.8/art/9.html', %s, 'repost')", (rid, rid))
        conn.execute("INSERT INTO report_versions (report_id, version, title, body, fields, valid_from)"
                     " VALUES (%s, 1, '朱溪镇2023年工作总结', '旧', '{}', now() - interval '1 day')", (rid,))
    by_id = gongkai("show", str(rid), database_url=database_url)
    by_url = gongkai("show", "http://127.0.0.8/art/9.html", database_url=database_url)
    assert by_id.returncode == 0 and by_id.stdout == by_url.stdout
    out = by_id.stdout
    assert "标题: 朱溪镇2023年工作总结" in out and "索引号: 11331024734494628R/2024-129893" in out
    assert "url (repost): http://127.0.0.8/art/9.html" in out and "version 1: 朱溪镇2023年工作总结" in out
    assert out.rstrip().endswith("增长6.5%。")
    as_json = json.loads(gongkai("show", str(rid), "--json", database_url=database_url).stdout)
    assert len(as_json["urls"]) == 2 and as_json["versions"][0]["version"] == 1
    missing = gongkai("show", "12345", database_url=database_url)
    assert missing.returncode == 2 and "no stored report" in one_line_error(missing)
