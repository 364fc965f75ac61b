"""Fields users ask for that the page only implies: the period a report covers and what kind it is.

Read from the title, because the publication date is not the period (武义 published its 2024 H1
summary in August 2025).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_YEAR = re.compile(r"(20\d{2}|19\d{2})\s*年")
_H1 = re.compile(r"上半年|1\s*[-—至~到]\s*6\s*月|一至六月")
_H2 = re.compile(r"下半年|7\s*[-—至~到]\s*12\s*月")
# Canonical kind -> words in titles that mean it.
KIND_WORDS = {
    "总结": ("总结", "完成情况", "工作报告", "情况的报告", "情况报告"),
    "计划": ("计划", "安排", "要点"),
    "思路": ("思路", "打算", "方向", "谋划"),
}


@dataclass
class Period:
    year: int | None = None
    half: str | None = None  # H1 | H2 | year
    kinds: list[str] = field(default_factory=list)


def parse_period(title: str) -> Period:
    """Year and half covered by the report's first part, and the kinds it contains.

    「2024年上半年工作总结和下半年工作计划」 covers 2024 H1 (its summary); 「2023年工作总结和2024年工作思路」
    covers 2023 as a whole year.
    """
    text = re.sub(r"\s+", "", title)
    period = Period()
    match = _YEAR.search(text)
    if match:
        period.year = int(match.group(1))
        rest = text[match.end():]
        first_part = re.split(r"[和及与暨、]|以及", rest, maxsplit=1)[0]
        if _H1.search(first_part):
            period.half = "H1"
        elif _H2.search(first_part):
            period.half = "H2"
        else:
            period.half = "year"
    period.kinds = [kind for kind, words in KIND_WORDS.items() if any(w in text for w in words)]
    return period


# What a unit's name carries besides the unit: 朱溪镇人民政府 is 朱溪镇, 仙居县人民政府办公室 is 仙居县.
_UNIT_SUFFIX = re.compile(r"(人民政府办公室|人民政府|政府办公室|办公室|街道办事处|办事处|党委|政府)$")


def unit_core(name: str | None) -> str:
    """The unit a publisher or 来源 names, without 人民政府 / 办公室 / 办事处."""
    core = re.sub(r"\s+", "", name or "")
    previous = None
    while core != previous:
        previous, core = core, _UNIT_SUFFIX.sub("", core)
    return core


def wrote_it(title: str, publisher: str | None) -> bool:
    """Whether the page's publisher is the unit the report is by: the unit its title names (朱溪镇2023年工作总结
    published by 朱溪镇人民政府), not a county office reposting it the same day."""
    core = unit_core(publisher)
    return len(core) >= 2 and core in re.sub(r"\s+", "", title)
