"""Report prose for replica articles, built from the five real seed bodies.

The seed paragraphs live in data/seedNNN.txt (one paragraph a line, full-width punctuation restored,
and seed 001's lost characters put back: 于9月26日, 2025年3月份, 99.27%). Articles get a deterministic
sample of them with the township name and the report years swapped in.
"""

from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources

# seed key -> (full township name, short name, base report year) used in that seed's prose
SEED_TOWNS: dict[str, tuple[str, str, int]] = {
    "000": ("朱溪镇", "朱溪", 2024),
    "001": ("大洲镇", "大洲", 2023),
    "002": ("柳城畲族镇", "柳城", 2024),
    "003": ("玉山镇", "玉山", 2023),
    "004": ("三魁镇", "三魁", 2023),
}

_YEAR = re.compile(r"(?<!\d)(20[12]\d)(?=年)")


@cache
def seed_paragraphs(key: str) -> tuple[str, ...]:
    """The cleaned body paragraphs of seed `key` ("000".."004")."""
    text = resources.files("gongkai_replica").joinpath("data", f"seed{key}.txt").read_text("utf-8")
    return tuple(line for line in text.splitlines() if line.strip())


def short_name(town: str) -> str:
    """朱溪镇 -> 朱溪, 竹里畲族乡 -> 竹里, 昌硕街道 -> 昌硕."""
    for suffix in ("畲族镇", "畲族乡", "街道", "镇", "乡"):
        if town.endswith(suffix) and len(town) > len(suffix) + 1:
            return town[: -len(suffix)]
    return town


def adapt(paragraph: str, seed_key: str, town: str, year: int) -> str:
    """Swap the seed's township for `town` and shift 20xx年 years so the text reports on `year`."""
    src_full, src_short, base_year = SEED_TOWNS[seed_key]
    out = paragraph.replace(src_full, town).replace(src_short, short_name(town))
    shift = year - base_year
    if shift:
        out = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), out)
    return out


def make_paragraphs(
    rng: random.Random,
    seed_key: str,
    town: str,
    year: int,
    *,
    n_min: int = 5,
    n_max: int = 10,
    must_contain: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> list[str]:
    """A report body: the seed's opening paragraph plus an ordered random sample of the rest.

    `must_contain` forces in one paragraph holding each substring (e.g. 龙之梦·六春湖 for the GBK site);
    `extra` paragraphs are appended verbatim.
    """
    pool = seed_paragraphs(seed_key)
    first, rest = pool[0], list(range(1, len(pool)))
    k = rng.randint(min(n_min, len(rest)), min(n_max, len(rest)))
    chosen = set(rng.sample(rest, k))
    for needle in must_contain:
        hits = [i for i in rest if needle in pool[i]]
        if hits and not chosen.intersection(hits):
            chosen.add(rng.choice(hits))
    paras = [first] + [pool[i] for i in sorted(chosen)]
    return [adapt(p, seed_key, town, year) for p in paras] + list(extra)
