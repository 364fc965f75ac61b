"""A county portal that reposts its towns' reports on the day they publish them (issue 20, problem 3).

On real county portals the county office (县政府办公室) often republishes a town's 工作总结 in a county-level
column the same day the town puts it in its own 计划总结 column: another article id and URL, the county's
索引号 and 发布机构 in the metadata block, the town named only in the title and a 来源 line, the same text.
The report is the town's: its 索引号 and 发布机构 must win whichever page a crawl reaches first, and the
county's page is an alias of it.

`repost_site(county_first=...)` builds such a jcms site: a town column (朱溪镇, 下各镇) with the originals and
a county column whose rows are the reposts (published hours apart on the same day) plus reports of the
county's own; `county_first` orders the columns (a crawl walks them in that order).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from gongkai_replica.sites import L000, REC_QUOTED_TRUNC, ReplicaArticle, ReplicaColumn, ReplicaSite
from gongkai_replica.text import make_paragraphs

COUNTY_OFFICE = "仙居县人民政府办公室"
COUNTY_CODE = "113310240026812345"
TOWN_CODES = {"朱溪镇": "11331024734494628R", "下各镇": "113310240026808730"}


@dataclass(frozen=True)
class RepostPair:
    """A town's original and the county's same-day repost of it."""

    original: ReplicaArticle
    repost: ReplicaArticle


def _original(rng: random.Random, article_id: int, town: str, title: str, when: datetime, serial: int) -> ReplicaArticle:
    return ReplicaArticle(article_id=article_id, pub_date=when, title=title,
                          paragraphs=make_paragraphs(rng, "000", town, when.year - 1), town=town,
                          index_no=f"{TOWN_CODES[town]}/{when.year}-{serial}", written_date=when.date())


def _repost(original: ReplicaArticle, article_id: int, hours_later: int, serial: int) -> ReplicaArticle:
    """The county office's copy: same title, text and day; its own id, 索引号 and 发布机构; the town as 来源."""
    return ReplicaArticle(article_id=article_id, pub_date=original.pub_date + timedelta(hours=hours_later),
                          title=original.title, paragraphs=list(original.paragraphs), town=COUNTY_OFFICE,
                          index_no=f"{COUNTY_CODE}/{original.pub_date.year}-{serial:06d}",
                          written_date=original.written_date, source=original.town)


def repost_pairs(seed: int = 2020) -> list[RepostPair]:
    rng = random.Random(seed)
    first = _original(rng, 3950101, "朱溪镇", "朱溪镇2024年上半年工作总结", datetime(2024, 7, 12, 9, 5), 130211)
    second = _original(rng, 3950377, "下各镇", "下各镇2023年工作总结及2024年工作思路", datetime(2024, 1, 19, 10, 40),
                       100487)
    # The county's copy is published later the same day, with a larger id (jcms ids grow with time)...
    pairs = [RepostPair(first, _repost(first, 3950188, 4, 2)),
             # ... or earlier: an office that posts the town's text before the town does (both orders happen).
             RepostPair(second, _repost(second, 3950301, -2, 1))]
    return pairs


def repost_site(*, county_first: bool = True, seed: int = 2020) -> ReplicaSite:
    rng = random.Random(seed + 1)
    pairs = repost_pairs(seed)
    own = ReplicaArticle(article_id=3950420, pub_date=datetime(2024, 2, 2, 15, 30), title="仙居县2023年政务公开工作总结",
                         paragraphs=make_paragraphs(rng, "000", "仙居县", 2023), town=COUNTY_OFFICE,
                         index_no=f"{COUNTY_CODE}/2024-000009")
    town_column = ReplicaColumn(1229311252, "计划总结", [p.original for p in pairs], parent="朱溪镇")
    county_column = ReplicaColumn(1229311250, "计划总结", [p.repost for p in pairs] + [own])
    columns = [county_column, town_column] if county_first else [town_column, county_column]
    return ReplicaSite(
        name="xianju-reposts", webid=3114, unitid=6390858, webname=" 仙居县人民政府", columns=columns,
        article_layout=L000, region="仙居县", domain="www.zjxj.gov.cn", site_code="3310240001",
        record_style=REC_QUOTED_TRUNC, robots_txt=None,
    )
