"""The readers' pages in headless Chromium (Playwright driving Debian's /usr/bin/chromium, which
scripts/setup.sh installs): search, filter, open a report, see the diff between its versions.

Screenshots are kept in tests/artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from tests.web_helpers import add_report, add_sites, new_version, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (scripts/setup.sh installs it)")


@pytest.fixture
def site_with_reports(database_url: str):
    with psycopg.connect(database_url) as conn:
        add_sites(conn)
        zhuxi = add_report(conn, "朱溪镇2024年上半年工作总结和下半年工作计划",
                           "一、上半年工作总结\n全镇地区生产总值增长6.5%，乡村振兴示范带建设有序推进。\n"
                           "二、下半年工作计划\n持续深化“千万工程”。", publisher="朱溪镇", published="2024-08-05",
                           attachments=[{"name": "2024年工作总结(朱溪镇).docx",
                                         "url": "http://zhuxi.gov.cn/module/download/downfile.jsp?filename=a.docx"}],
                           metadata={"索引号": "11331024734494628R/2024-129893", "组配分类": "计划总结"})
        add_report(conn, "湖山乡2023年工作总结和2024年工作思路", "2023年湖山乡推进乡村振兴，全年GDP增长7.2％。",
                   site="hujiang", publisher="湖山乡", published="2024-01-15")
        add_report(conn, "柳城畲族镇2023年工作总结", "柳城畲族镇乡村振兴成效明显。", site="liucheng",
                   publisher="柳城畲族镇", published="2023-12-28")
        new_version(conn, zhuxi, "朱溪镇2024年上半年工作总结和下半年工作计划",
                    "一、上半年工作总结\n全镇地区生产总值增长6.8%，乡村振兴示范带建设有序推进。\n"
                    "二、下半年工作计划\n持续深化“千万工程”。\n三、存在问题")
        yield {"zhuxi": zhuxi}


def test_search_filter_open_a_report_and_see_the_diff(database_url, site_with_reports):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with serve(database_url) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(base + "/")
            expect(page.locator("#count")).to_contain_text("共 3 篇")

            # search
            page.fill("input[name=q]", "乡村振兴")
            page.click("button[type=submit]")
            expect(page.locator("#count")).to_contain_text("共 3 篇包含“乡村振兴”的报告")
            expect(page.locator("article.hit")).to_have_count(3)
            expect(page.locator("article.hit mark").first).to_have_text("乡村振兴")
            page.screenshot(path=str(ARTIFACTS / "web_search.png"), full_page=True)

            # filter: county from the form, then year from the facet list
            page.select_option("select[name=county]", "遂昌县")
            page.click("button[type=submit]")
            expect(page.locator("#count")).to_contain_text("共 2 篇")
            page.locator("ul.facet-year a", has_text="2024").click()
            expect(page.locator("#count")).to_contain_text("共 1 篇")
            assert re.search(r"[?&]year=2024", page.url) and "county=" in page.url
            expect(page.locator("article.hit h2")).to_have_text("朱溪镇2024年上半年工作总结和下半年工作计划")
            page.screenshot(path=str(ARTIFACTS / "web_search_filtered.png"), full_page=True)

            # open the report
            page.locator("article.hit h2 a").click()
            expect(page.locator("h1")).to_have_text("朱溪镇2024年上半年工作总结和下半年工作计划")
            expect(page.locator("#metadata")).to_contain_text("11331024734494628R/2024-129893")
            expect(page.locator("#metadata")).to_contain_text("丽水市 遂昌县 朱溪镇")
            expect(page.locator("#cite")).to_contain_text("朱溪镇. 朱溪镇2024年上半年工作总结和下半年工作计划[EB/OL]. (2024-08-05)")
            expect(page.locator("#body")).to_contain_text("增长6.8%")
            expect(page.locator("#attachments a")).to_have_text("2024年工作总结(朱溪镇).docx")
            expect(page.locator("#urls")).to_contain_text("primary")
            expect(page.locator("#versions tr")).to_have_count(3)  # header, version 1, version 2 (current)

            # the diff between version 1 and 2
            diff = page.locator("#diff-1-2")
            expect(diff.locator("del").first).to_have_text("5")
            expect(diff.locator("ins").first).to_have_text("8")
            expect(diff.locator("ins", has_text="三、存在问题")).to_have_count(1)
            diff.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "web_report_diff.png"), full_page=True)

            # the site page from the report
            page.locator("#metadata a[href=\"/sites/zhuxi\"]").click()
            expect(page.locator("h1")).to_have_text("zhuxi")
            expect(page.locator("#site")).to_contain_text("丽水市 遂昌县 朱溪镇")
        finally:
            browser.close()
    assert (ARTIFACTS / "web_report_diff.png").stat().st_size > 10_000
