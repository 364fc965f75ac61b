"""The staging pipeline's writer thread at the end of a crawl: what is buffered when the spider closes is
written exactly once, even when settling the write in flight starts another one."""

from __future__ import annotations

import time

import psycopg
from scrapy.utils.test import get_crawler

from gongkai.crawler.items import FetchedPage
from gongkai.crawler.pipelines import StagePipeline


def _page(n: int) -> FetchedPage:
    url = f"http://127.0.0.9/art/2024/1/1/art_1_{n}.html"
    return FetchedPage(url=url, final_url=url, site="s", column_url=None, listing_title=None, listing_date=None,
                       status=200, headers={}, body=f"<html>{n}</html>".encode(), fetched_at=time.time())


def test_close_writes_every_buffered_item_once_behind_a_write_in_flight(database_url):
    crawler = get_crawler(settings_dict={"GONGKAI_DATABASE_URL": database_url, "GONGKAI_STAGE_BATCH": 2})
    pipeline = StagePipeline(crawler)
    pipeline.open_spider()
    pipeline.buffer = [_page(n) for n in range(3)]
    pipeline.flush()  # pages 0-2 go to the writer thread
    assert pipeline._inflight is not None
    pipeline.buffer += [_page(n) for n in range(3, 7)]  # arrive meanwhile: settling the write starts theirs
    pipeline.close_spider()
    with psycopg.connect(database_url) as conn:
        urls = [url for (url,) in conn.execute("SELECT url FROM staged_pages ORDER BY id")]
    assert sorted(urls) == sorted(_page(n).url for n in range(7))
    assert crawler.stats.get_value("stage/fetched") == 7
