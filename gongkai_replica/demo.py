"""The bundled demo: five replica county portals, one per seed layout (~115 articles in all).

Deterministic (seeded random). What it covers, so the crawler, extractor and tests can rely on it:
- 仙居 xianju (L000, UTF-8, robots 404): a county-level column with 52 records (dataproxy paging
  needed), a 朱溪镇 column; the 朱溪镇 2024 H1 report is listed under both columns (same article id);
  a legacy 8-digit 58xxxxxx article; two articles answer 503 once.
- 衢江 qujiang (L001, GBK bytes, header without charset, meta gb2312; text has 镕 喆 堃 昇 and
  龙之梦·六春湖), robots allow-all.
- 武义 wuyi (L002, no ZJEG_RSS markers, .docx attachments, one attachment-only report, absolute
  listing URLs), robots `Disallow: /private/` with one listed record under /private/; one 503 once.
- 磐安 panan (L003, perPage 10 x groupSize 2, lookahead-duplicate dataproxy quirk, var param_ jpage),
  one article answers 429 with Retry-After: 1 once.
- 泰顺 taishun (L004, junk link-less record, Crawl-delay: 1), one listed article withdrawn (404).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from gongkai_replica.sites import (
    JPAGE_A,
    JPAGE_B,
    JPAGE_PARAM,
    L000,
    L001,
    L002,
    L003,
    L004,
    REC_BRACKET,
    REC_FONT_BULLET,
    REC_ITALIC_ABS,
    REC_PLAIN,
    REC_QUOTED_TRUNC,
    ReplicaArticle,
    ReplicaAttachment,
    ReplicaColumn,
    ReplicaSite,
)
from gongkai_replica.text import make_paragraphs, seed_paragraphs

SEED = 20240805
_CHECK = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# report kind -> (title template, publish months relative to the report year)
KINDS: dict[str, tuple[str, int, tuple[int, int]]] = {
    "annual": ("{town}{y}年工作总结和{y1}年工作计划", 1, (1, 4)),
    "annual2": ("{town}{y}年工作总结及{y1}年工作思路", 1, (1, 3)),
    "half": ("{town}{y}年上半年工作总结和下半年工作思路", 0, (7, 9)),
    "half2": ("{town}{y}年上半年工作总结及下半年工作计划", 0, (7, 10)),
    "yearly": ("{town}{y}年度工作总结", 1, (1, 2)),
    "fazhi": ("{town}人民政府关于{y}年法治政府建设情况的报告", 1, (1, 3)),
}


def credit_code(rng: random.Random, area: str) -> str:
    """An 18-char 统一社会信用代码-shaped prefix: 11 + area code + 9 digits + check char."""
    return "11" + area + "".join(rng.choice("0123456789") for _ in range(9)) + rng.choice(_CHECK)


def _report(
    rng: random.Random,
    *,
    seed_key: str,
    town: str,
    year: int,
    kind: str,
    prefix: str,
    serial_digits: int = 6,
    **kw: object,
) -> ReplicaArticle:
    tmpl, offset, (m0, m1) = KINDS[kind]
    py = year + offset
    pub = datetime(py, rng.randint(m0, m1), rng.randint(1, 28), rng.randint(8, 17), rng.randint(0, 59))
    serial = str(rng.randint(10 ** (serial_digits - 1), 10**serial_digits - 1))
    paras = kw.pop("paragraphs", None)
    if paras is None:
        must = kw.pop("must_contain", ())
        extra = kw.pop("extra", ())
        paras = make_paragraphs(rng, seed_key, town, year, must_contain=must, extra=extra)  # type: ignore[arg-type]
    return ReplicaArticle(
        article_id=0,
        pub_date=pub,
        title=tmpl.format(town=town, y=year, y1=year + 1),
        paragraphs=paras,  # type: ignore[arg-type]
        town=town,
        index_no=f"{prefix}/{py}-{serial}",
        written_date=(pub - timedelta(days=rng.randint(0, 5))).date(),
        **kw,  # type: ignore[arg-type]
    )


def _assign_ids(rng: random.Random, arts: list[ReplicaArticle], base: int) -> None:
    """Ids grow with publish time (as on jcms); articles that already have an id keep it."""
    taken = {a.article_id for a in arts if a.article_id}
    nxt = base
    for a in sorted(arts, key=lambda a: a.pub_date):
        if a.article_id:
            continue
        nxt += rng.randint(400, 4000)
        while nxt in taken:
            nxt += 1
        a.article_id = nxt
        taken.add(nxt)


def _xianju(rng: random.Random) -> ReplicaSite:
    towns = ["下各镇", "白塔镇", "田市镇", "官路镇", "横溪镇", "埠头镇", "安岭乡", "皤滩乡"]
    codes = {t: credit_code(rng, "331024") for t in towns + ["朱溪镇"]}
    codes["朱溪镇"] = "11331024734494628R"
    combos = [(t, y, k) for t in towns for y in range(2018, 2025) for k in ("annual", "half")]
    county = [
        _report(rng, seed_key="000", town=t, year=y, kind=k, prefix=codes[t]) for t, y, k in rng.sample(combos, 51)
    ]
    county[7].fail_first = 1
    county[30].fail_first = 1
    real = ReplicaArticle(
        article_id=3942862,
        pub_date=datetime(2024, 8, 5, 16, 40),
        title="朱溪镇2024年上半年工作总结和下半年计划",
        paragraphs=list(seed_paragraphs("000")),
        town="朱溪镇",
        index_no="11331024734494628R/2024-129893",
    )
    zhuxi = [real] + [
        _report(rng, seed_key="000", town="朱溪镇", year=y, kind=k, prefix=codes["朱溪镇"])
        for y, k in ((2023, "annual"), (2022, "annual2"), (2021, "half2"))
    ]
    legacy = _report(rng, seed_key="000", town="朱溪镇", year=2016, kind="yearly", prefix=codes["朱溪镇"])
    legacy.article_id = 58995228  # migrated old item: 8-digit 58xxxxxx id, old date
    zhuxi.append(legacy)
    _assign_ids(rng, county + zhuxi, 3_700_000)
    col_zhuxi = ReplicaColumn(1229311252, "计划总结", zhuxi, parent="朱溪镇")
    col_county = ReplicaColumn(1229311250, "计划总结", county + [real])  # real: also listed here
    return ReplicaSite(
        name="xianju", webid=3114, unitid=6390858, webname=" 仙居县人民政府",
        columns=[col_county, col_zhuxi], article_layout=L000, region="仙居县", domain="www.zjxj.gov.cn",
        site_code="3310240001", record_style=REC_QUOTED_TRUNC, jpage_style=JPAGE_A, robots_txt=None,
    )


def _qujiang(rng: random.Random) -> ReplicaSite:
    def names(town: str) -> tuple[str, ...]:
        # GBK-only characters (not in GB2312): a gb2312 decoder visibly fails on this site
        return (f"本报告由{town}党政办王喆、陈堃汇总整理，经镇党委书记李昇、镇长郑镕审定后公开。",)

    dazhou_real = ReplicaArticle(
        article_id=2166108,
        pub_date=datetime(2024, 5, 23, 9, 21),
        title="大洲镇2023年工作总结和2024年工作计划",
        paragraphs=list(seed_paragraphs("001")) + list(names("大洲镇")),
        town="大洲镇",
        index_no="330803/2024-66610",
    )
    arts_d = [dazhou_real] + [
        _report(rng, seed_key="001", town="大洲镇", year=y, kind=k, prefix="330803", serial_digits=5,
                must_contain=("龙之梦·六春湖",), extra=names("大洲镇"))
        for y, k in ((2022, "annual"), (2021, "annual"), (2023, "half2"), (2020, "yearly"), (2019, "annual2"))
    ]
    arts_d[2].doc_no = "大洲政〔2022〕12号"
    arts_x = [
        _report(rng, seed_key="001", town="峡川镇", year=y, kind=k, prefix="330803", serial_digits=5,
                must_contain=("龙之梦·六春湖",), extra=names("峡川镇"))
        for y, k in ((2023, "annual"), (2022, "annual"), (2021, "half"), (2020, "annual2"), (2018, "fazhi"))
    ]
    _assign_ids(rng, arts_d + arts_x, 2_000_000)
    return ReplicaSite(
        name="qujiang", webid=2759, unitid=4467411, webname="衢江区人民政府",
        columns=[ReplicaColumn(1229133451, "计划总结", arts_d, parent="大洲镇"),
                 ReplicaColumn(1229133452, "计划总结", arts_x, parent="峡川镇")],
        article_layout=L001, charset="gbk", region="衢江区", domain="www.qjq.gov.cn", site_code="3308030005",
        record_style=REC_BRACKET, jpage_style=JPAGE_B, robots_txt="User-agent: *\nDisallow:\n",
    )


def _docx(rng: random.Random, a: ReplicaArticle, name: str | None = None) -> None:
    core = a.title.removeprefix(a.town)
    mmdd = (a.pub_date - timedelta(days=rng.randint(3, 20))).strftime("%m%d")
    a.attachments.append(ReplicaAttachment.of_report(name or f"{core}（{a.town}）{mmdd}.docx",
                                                     f"{rng.getrandbits(128):032x}.docx", a.title, a.paragraphs))


def _wuyi(rng: random.Random) -> ReplicaSite:
    real = ReplicaArticle(
        article_id=4279798,
        pub_date=datetime(2025, 8, 12, 15, 15),
        title="柳城畲族镇2024年上半年工作总结和下半年工作思路",
        paragraphs=list(seed_paragraphs("002")),
        town="柳城畲族镇",
        index_no="11330723002601520C/2025-279923",
    )
    _docx(rng, real, "2024年上半年工作总结和下半年工作思路(柳城畲族镇)0726.docx")
    code_t = credit_code(rng, "330723")
    arts_l = [real] + [
        _report(rng, seed_key="002", town="柳城畲族镇", year=y, kind=k, prefix="11330723002601520C")
        for y, k in ((2023, "annual"), (2023, "half"), (2022, "annual2"), (2021, "half2"))
    ]
    private = _report(rng, seed_key="002", town="柳城畲族镇", year=2020, kind="annual",
                      prefix="11330723002601520C", private=True)
    arts_l.append(private)
    arts_t = [
        _report(rng, seed_key="002", town="桃溪镇", year=y, kind=k, prefix=code_t)
        for y, k in ((2024, "annual"), (2024, "half"), (2023, "annual"), (2022, "half2"), (2021, "fazhi"))
    ]
    for a in arts_l[1:3] + arts_t[:3]:
        _docx(rng, a)
    arts_t[2].paragraphs = []  # attachment-only report: the body is just the file name
    arts_t[4].fail_first = 1
    _assign_ids(rng, arts_l + arts_t, 4_100_000)
    return ReplicaSite(
        name="wuyi", webid=3558, unitid=6208573, webname="武义县人民政府",
        columns=[ReplicaColumn(1229423772, "计划总结", arts_l, parent="柳城畲族镇"),
                 ReplicaColumn(1229423775, "计划总结", arts_t, parent="桃溪镇")],
        article_layout=L002, region="武义县", domain="www.zjwy.gov.cn", site_code="3307230003",
        record_style=REC_ITALIC_ABS, jpage_style=JPAGE_A,
        robots_txt="User-agent: *\nDisallow: /private/\n",
    )


def _panan(rng: random.Random) -> ReplicaSite:
    real = ReplicaArticle(
        article_id=4231907,
        pub_date=datetime(2023, 11, 7, 10, 3),
        title="玉山镇2023年上半年工作总结及下半年工作计划",
        paragraphs=list(seed_paragraphs("003")),
        town="玉山镇",
        index_no="11330727755915516G/2023-62711",
    )
    combos = [(y, k) for y in range(2013, 2024) for k in ("annual", "half2")]
    combos.remove((2023, "half2"))
    arts_y = [real] + [
        _report(rng, seed_key="003", town="玉山镇", year=y, kind=k, prefix="11330727755915516G")
        for y, k in combos[:21]
    ]
    arts_y[5].too_many_first = 1
    arts_y[5].retry_after = 1
    code_j = credit_code(rng, "330727")
    arts_j = [
        _report(rng, seed_key="003", town="尖山镇", year=y, kind=k, prefix=code_j)
        for y, k in ((2023, "annual"), (2022, "half2"), (2022, "annual"), (2021, "annual"), (2020, "yearly"))
    ]
    _assign_ids(rng, arts_y + arts_j, 3_300_000)
    return ReplicaSite(
        name="panan", webid=3611, unitid=6166867, webname="磐安县人民政府",
        columns=[ReplicaColumn(1229227315, "计划总结", arts_y, parent="玉山镇"),
                 ReplicaColumn(1229227318, "计划总结", arts_j, parent="尖山镇")],
        per_page=10, group_size=2, lookahead_duplicate=True,
        article_layout=L003, region="磐安县", domain="www.panan.gov.cn", site_code="3307270001",
        record_style=REC_FONT_BULLET, jpage_style=JPAGE_PARAM,
        robots_txt="User-agent: Baiduspider\nAllow: /\n\nUser-agent: *\nDisallow: /module/visitcount/\n",
    )


def _taishun(rng: random.Random) -> ReplicaSite:
    real = ReplicaArticle(
        article_id=4218588,
        pub_date=datetime(2024, 1, 24, 14, 53),
        title="三魁镇2023年工作总结及2024年工作方向",
        paragraphs=list(seed_paragraphs("004")),
        town="三魁镇",
        index_no="001008003011056/2024-66069",
    )
    arts_s = [real] + [
        _report(rng, seed_key="004", town="三魁镇", year=y, kind=k, prefix="001008003011056", serial_digits=5)
        for y, k in ((2022, "annual2"), (2021, "annual2"), (2020, "half"), (2019, "annual"))
    ]
    arts_z = [
        _report(rng, seed_key="004", town="竹里畲族乡", year=y, kind=k, prefix="001008003011071", serial_digits=5)
        for y, k in ((2023, "annual2"), (2022, "annual"), (2021, "annual"), (2020, "yearly"), (2019, "half2"))
    ]
    for i, a in enumerate(arts_s + arts_z):
        a.written_cn = i % 2 == 1  # 成文日期 shown as 2024年1月24日 on every other page
    arts_z[1].withdrawn = True
    _assign_ids(rng, arts_s + arts_z, 4_150_000)
    return ReplicaSite(
        name="taishun", webid=3329, unitid=7048171, webname="泰顺县人民政府",
        columns=[ReplicaColumn(1229659527, "计划总结", arts_s, parent="三魁镇", junk_positions=(2,)),
                 ReplicaColumn(1229659530, "计划总结", arts_z, parent="竹里畲族乡")],
        article_layout=L004, region="泰顺县", domain="www.ts.gov.cn", site_code="3303290002",
        record_style=REC_PLAIN, jpage_style=JPAGE_B,
        robots_txt="User-agent: *\nCrawl-delay: 1\nDisallow: /module/visitcount/\n",
    )


BUILDERS: tuple[Callable[[random.Random], ReplicaSite], ...] = (_xianju, _qujiang, _wuyi, _panan, _taishun)


def build_demo_sites(seed: int = SEED) -> list[ReplicaSite]:
    """Fresh demo sites (new objects each call, so tests can mutate them freely)."""
    rng = random.Random(seed)
    sites = [b(rng) for b in BUILDERS]
    bodies: dict[str, tuple[str, int]] = {}
    for s in sites:
        for a in s.articles():
            body = "\n".join(a.paragraphs) + "|" + "|".join(x.name for x in a.attachments)
            other = bodies.setdefault(body, (s.name, a.article_id))
            if other != (s.name, a.article_id):
                raise AssertionError(f"identical bodies: {other} and {(s.name, a.article_id)}")
    return sites
