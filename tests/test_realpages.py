"""Real government pages with hand-written gold (../shared/realpages/, Fundus style): one case per page.

Each page is decoded as the pipeline decodes a response without a Content-Type, extracted with the address
its NNN.json gives, and scored by bench.scoring (the benchmark scores the same way): every field the gold
shows must match once whitespace is removed, no field may be invented where the gold is null, the body must
hold its first and last sentence and none of the page's chrome, and no 附件 link line or stand-alone 来源
line may stay in it. Adding a page to the folder adds a case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.scoring import score_page
from gongkai.ingest.decode import decode_html
from gongkai.ingest.extract import extract_article

REALPAGES = Path(__file__).resolve().parents[2] / "shared" / "realpages"
PAGES = sorted(REALPAGES.glob("[0-9][0-9][0-9].html")) if REALPAGES.is_dir() else []
# Pages extraction does not yet get right, and why (strict: a page that passes must leave this list).
KNOWN_FAILURES: dict[str, str] = {}


def _case(page: Path) -> object:
    reason = KNOWN_FAILURES.get(page.stem)
    return pytest.param(page, marks=pytest.mark.xfail(strict=True, reason=reason)) if reason else page


def _extract(page: Path) -> tuple[dict, dict]:
    source = json.loads(page.with_suffix(".json").read_text("utf-8"))
    gold = json.loads(page.with_name(f"{page.stem}.gold.json").read_text("utf-8"))
    return extract_article(decode_html(page.read_bytes(), None), source["url"]).to_dict(), gold


@pytest.mark.skipif(not REALPAGES.is_dir(), reason=f"no real-page corpus at {REALPAGES} (the shared checkout)")
def test_corpus_is_there() -> None:
    assert PAGES
    for page in PAGES:
        assert page.with_suffix(".json").exists() and page.with_name(f"{page.stem}.gold.json").exists(), page


@pytest.mark.skipif(not REALPAGES.is_dir(), reason=f"no real-page corpus at {REALPAGES} (the shared checkout)")
@pytest.mark.parametrize("page", [_case(p) for p in PAGES], ids=lambda p: p.stem)
def test_real_page(page: Path) -> None:
    got, gold = _extract(page)
    score = score_page(got, gold)
    assert score.ok, f"{page.stem} ({gold.get('template', '')[:60]}):\n  " + "\n  ".join(score.failures())
