"""The Scrapy private-API patches (gongkai/crawler/scrapy_patches.py) still fit the installed Scrapy.

Fails loudly on a Scrapy or scrapy-redis version the patches were not written for, and when a private
attribute or function a patch relies on is gone, takes other parameters, or (where a patch copies or
overrides Scrapy's code) has changed: read the patch against the new Scrapy, then update its guard.
"""

from __future__ import annotations

import scrapy

from gongkai.crawler import scrapy_patches


def test_installed_versions_are_the_ones_the_patches_were_written_for():
    assert scrapy_patches.version_problems() == [], (
        f"Scrapy {scrapy.__version__} is not in TESTED_SCRAPY {scrapy_patches.TESTED_SCRAPY}: check every patch "
        "in gongkai/crawler/scrapy_patches.py against it, then add the version")


def test_every_private_api_a_patch_relies_on_is_still_there():
    assert scrapy_patches.check_patches() == {}


def test_the_guards_notice_a_change():
    """A guard that cannot fail guards nothing: one on a changed signature and one on a gone attribute."""
    problems: list[str] = []

    class Changed:
        def _process_queue(self, slot, extra):
            pass

    scrapy_patches._signature(problems, Changed, "_process_queue", ["self", "slot"], source="872b81a4bbb4cb1a")
    scrapy_patches._signature(problems, Changed, "_latercall", ["self", "slot"])
    assert len(problems) == 3, problems
    assert "expected (self, slot)" in problems[0] and "changed" in problems[1] and "is gone" in problems[2]


def test_the_crawl_uses_the_patched_classes():
    from gongkai.crawler.settings import crawl_settings

    settings = crawl_settings("postgresql://x/y", None)
    assert settings["DOWNLOADER"] == "gongkai.crawler.scrapy_patches.PerHostDownloader"
    assert settings["DOWNLOADER_MIDDLEWARES"]["gongkai.crawler.scrapy_patches.StrictRobotsTxtMiddleware"] == 100
    assert settings["DOWNLOADER_MIDDLEWARES"]["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
