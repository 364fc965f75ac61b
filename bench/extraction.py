"""Extraction scorecard: gongkai against bare trafilatura, per template, on every page with known truth.

Groups (one row each):
- `replica L000`..`L004`: the demo portals' jcms article pages (ground truth: ReplicaArticle.expected_on_page);
- `layout <name>`: the issue-20 layouts of gongkai_replica.layouts, the held-out ones marked (never tuned on);
- `fixture jcms NNN` / `fixture layouts <family>` / `fixture edge`: the hand-written fixture pages of tests/;
- `real pages`: ../shared/realpages (gold written by hand from real government pages), as one group.
Per group: each field's exact share (whitespace-insensitive), body sentence precision and recall, pages with
chrome in the body, numeric tokens (numbers, %, dates) of the gold body lost; for gongkai and for
trafilatura.extract (which reads title and date only; its other fields show as "-"). Real pages have only
their first and last sentence as body gold: recall is over those two, precision is not measured, and a
field counts only where the gold shows it (an invented value is counted apart).

Scoring is bench.scoring's, which tests/test_realpages.py uses too. `run(results, quick)` puts the table under
results["extraction"] (each row keeps `ours_bodies_with_chrome`, which the smoke test reads).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scoring import (
    GOLD_FIELDS,
    chrome_leaks,
    field_verdict,
    lost_numerics,
    sentence_precision_recall,
    squash,
)

ROOT = Path(__file__).resolve().parent.parent
REALPAGES = ROOT.parent / "shared" / "realpages"
FIELDS = GOLD_FIELDS  # title, index_no, publisher, published_date, written_date, doc_no, category, source
TRAFILATURA_FIELDS = ("title", "published_date")
# Chrome words for pages whose gold lists none: a leak is one that the body shows more often than the gold.
CHROME_RE = re.compile(r"访问次数|浏览次数|点击数|访问量|分享到|打印本页|关闭窗口|关闭本页|索\s*引\s*号|信息来源|字号|"
                       r"Produced By|当前位置|网站标识码|ICP备|扫一扫|版权与免责声明|下载文字版")


@dataclass
class Case:
    """One page and what is known of it: `fields` to score (None = the page shows none), the whole gold
    body if known, else the sentences it must hold, and the chrome it must not."""

    group: str
    html: str
    url: str
    fields: dict[str, str | None]
    body: str | None = None
    must_hold: list[str] = field(default_factory=list)
    chrome: list[str] | None = None
    held_out: bool = False
    real: bool = False


def _fixture_cases() -> Iterator[Case]:
    from gongkai.ingest.decode import decode_html

    families = (("jcms", lambda stem: f"fixture jcms {stem[:3]}"),
                ("layouts", lambda stem: f"fixture layouts {stem.split('_')[0]}"))
    for folder, name in families:
        for meta_path in sorted((ROOT / "tests/fixtures" / folder).glob("*.meta.json")):
            stem = meta_path.name[: -len(".meta.json")]
            expected = json.loads((meta_path.parent / f"{stem}.expected.json").read_text("utf-8"))
            if not expected.get("title"):
                continue  # a challenge page, no article
            meta = json.loads(meta_path.read_text("utf-8"))
            html = decode_html((meta_path.parent / f"{stem}.html").read_bytes(), meta.get("content_type"))
            yield Case(name(stem), html, meta["url"], {f: expected.get(f) for f in FIELDS if f in expected},
                       expected["body"])
    edge = ROOT / "tests/fixtures/edge"
    for stem, case in json.loads((edge / "cases.json").read_text("utf-8")).items():
        html = decode_html((edge / f"{stem}.html").read_bytes(), case.get("content_type"))
        known = {f: v for f, v in case.get("fields", {}).items() if f in FIELDS}
        yield Case("fixture edge", html, case["url"], known, "\n".join(case["body"]))


def _replica_cases(quick: bool) -> Iterator[Case]:
    from gongkai_replica.articles import render_article
    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.layouts import layout_pages

    for site in build_demo_sites():
        articles = [(c, a) for c in site.columns for a in c.articles if not (a.withdrawn or a.private)]
        for column, article in articles[:4] if quick else articles:
            expected = article.expected_on_page.to_dict()
            url = f"http://{site.domain}{article.url_path_for(column.column_id)}"
            yield Case(f"replica {article.effective_layout}", render_article(site, column, article), url,
                       {f: expected[f] for f in FIELDS if f != "source"}, expected["body"])
    from gongkai.ingest.decode import decode_html

    for page in layout_pages(per_layout=2 if quick else 12, seed=2021):
        expected = page.expected.to_dict()
        yield Case(f"layout {page.layout}", decode_html(page.raw, None), page.url,
                   {f: expected[f] for f in FIELDS}, expected["body"], held_out=page.held_out)


def _real_cases() -> Iterator[Case]:
    from gongkai.ingest.decode import decode_html

    if not REALPAGES.is_dir():
        return
    for page in sorted(REALPAGES.glob("[0-9][0-9][0-9].html")):
        source = json.loads(page.with_suffix(".json").read_text("utf-8"))
        gold = json.loads(page.with_name(f"{page.stem}.gold.json").read_text("utf-8"))
        yield Case("real pages", decode_html(page.read_bytes(), None), source["url"],
                   {f: gold.get(f) for f in FIELDS}, None, [s for s in (gold["body_first"], gold["body_last"]) if s],
                   gold.get("chrome") or [], real=True)


def ours(case: Case) -> dict[str, Any]:
    from gongkai.ingest.extract import extract_article

    return extract_article(case.html, case.url).to_dict()


def bare_trafilatura(case: Case) -> dict[str, Any]:
    """trafilatura.extract as it comes (metadata on, for its title and date)."""
    import trafilatura

    out = trafilatura.extract(case.html, url=case.url, output_format="json", with_metadata=True) or "{}"
    doc = json.loads(out)
    return {"title": doc.get("title"), "published_date": doc.get("date"), "body": doc.get("text") or ""}


@dataclass
class Tally:
    """One system's scores over one group."""

    pages: int = 0
    right: dict[str, int] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)
    invented: int = 0
    precision: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    chrome_pages: int = 0
    lost_numerics: int = 0
    numerics_pages: int = 0

    def add(self, case: Case, got: dict[str, Any], fields: tuple[str, ...]) -> None:
        self.pages += 1
        for name in fields:
            if name not in case.fields:
                continue
            gold = case.fields[name]
            if case.real and gold is None:
                self.invented += field_verdict(got.get(name), None) == "invented"
                continue
            self.counted[name] = self.counted.get(name, 0) + 1
            same = squash(got.get(name)) == squash(gold) if gold is not None else got.get(name) in (None, "")
            self.right[name] = self.right.get(name, 0) + same
        body = got.get("body") or ""
        if case.body is not None:
            p, r = sentence_precision_recall(body, case.body)
            self.precision.append(p)
            self.recall.append(r)
            lost = lost_numerics(body, case.body)
            self.lost_numerics += len(lost)
            self.numerics_pages += bool(lost)
            leaked = len(CHROME_RE.findall(body)) > len(CHROME_RE.findall(case.body))
        else:
            flat = squash(body)
            self.recall.append(sum(squash(s) in flat for s in case.must_hold) / max(1, len(case.must_hold)))
            leaked = bool(chrome_leaks(body, case.chrome or []))
        self.chrome_pages += leaked

    def row(self, fields: tuple[str, ...]) -> dict[str, Any]:
        def pct(name: str) -> float | None:
            n = self.counted.get(name, 0)
            return round(100 * self.right.get(name, 0) / n, 1) if n else None

        def mean(values: list[float]) -> float | None:
            return round(sum(values) / len(values), 4) if values else None

        return {**{f"{name}_pct": pct(name) for name in fields}, "invented_fields": self.invented,
                "body_precision": mean(self.precision), "body_recall": mean(self.recall),
                "bodies_with_chrome": self.chrome_pages, "numerics_lost": self.lost_numerics,
                "bodies_losing_numerics": self.numerics_pages}


def score(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """Per group: pages, held out or not, and gongkai's and trafilatura's rows."""
    groups: dict[str, tuple[Case, Tally, Tally]] = {}
    for case in cases:
        _, mine, theirs = groups.setdefault(case.group, (case, Tally(), Tally()))
        mine.add(case, ours(case), FIELDS)
        theirs.add(case, bare_trafilatura(case), TRAFILATURA_FIELDS)
    table = {}
    for name, (first, mine, theirs) in sorted(groups.items(), key=lambda kv: (kv[1][0].real, kv[1][0].held_out, kv[0])):
        ours_row, traf_row = mine.row(FIELDS), theirs.row(TRAFILATURA_FIELDS)
        table[name] = {"pages": mine.pages, "held_out": first.held_out, "ours": ours_row, "trafilatura": traf_row,
                       # kept for tests/test_bench_smoke.py
                       "ours_bodies_with_chrome": ours_row["bodies_with_chrome"]}
    return table


def markdown(table: dict[str, dict[str, Any]]) -> str:
    """The scorecard as two Markdown tables: fields (gongkai), body (gongkai | trafilatura)."""
    def cell(value: Any) -> str:
        return "-" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))

    short = {"title": "title", "index_no": "索引号", "publisher": "发布机构", "published_date": "发布日期",
             "written_date": "成文日期", "doc_no": "文号", "category": "分类", "source": "来源"}
    out = ["| group | pages | " + " | ".join(short[f] for f in FIELDS) + " | invented |",
           "|---|---:|" + "---:|" * (len(FIELDS) + 1)]
    for name, row in table.items():
        label = f"{name} (held out)" if row["held_out"] else name
        out.append(f"| {label} | {row['pages']} | " + " | ".join(cell(row["ours"][f"{f}_pct"]) for f in FIELDS)
                   + f" | {row['ours']['invented_fields']} |")
    out += ["", "| group | body P | body R | chrome | numerics lost | traf. title | traf. date | traf. P | traf. R "
                "| traf. chrome | traf. numerics lost |", "|---|" + "---:|" * 10]
    for name, row in table.items():
        o, t = row["ours"], row["trafilatura"]
        label = f"{name} (held out)" if row["held_out"] else name
        out.append(f"| {label} | {cell(o['body_precision'])} | {cell(o['body_recall'])} | {o['bodies_with_chrome']} | "
                   f"{o['numerics_lost']} | {cell(t['title_pct'])} | {cell(t['published_date_pct'])} | "
                   f"{cell(t['body_precision'])} | {cell(t['body_recall'])} | {t['bodies_with_chrome']} | "
                   f"{t['numerics_lost']} |")
    return "\n".join(out)


def cases(quick: bool, pick: Callable[[Case], bool] = lambda case: True) -> list[Case]:
    """Every case, or (quick) a few of the replica's; the fixtures and real pages are always all read."""
    return [c for c in [*_replica_cases(quick), *_fixture_cases(), *_real_cases()] if pick(c)]


def run(results: dict, quick: bool) -> None:
    table = score(cases(quick))
    results["extraction"] = table
    print(markdown(table), file=sys.stderr)


if __name__ == "__main__":
    results: dict = {}
    run(results, "--quick" in sys.argv)
