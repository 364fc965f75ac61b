"""A labelled set of body pairs for measuring near-duplicate detection (tests and bench).

Positives are what real reposts look like: the same text with a 来源 line, re-spaced lines,
half-width punctuation, a 转发 header. Negatives are the hard cases: different towns' or years'
reports built from the same stock paragraphs, and a half-year summary against an annual one that
reuses some of its paragraphs.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from gongkai_replica.demo import build_demo_sites

_HALF_WIDTH = str.maketrans({"，": ",", "。": ".", "；": ";", "：": ":", "（": "(", "）": ")", "“": '"', "”": '"',
                             "、": ","})


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    duplicate: bool
    kind: str


def labelled_pairs(seed: int = 7) -> list[LabelledPair]:
    rng = random.Random(seed)
    articles = [a for site in build_demo_sites() for a in site.crawlable_articles()]
    bodies = [a.expected.body for a in articles if len(a.expected.body) > 200]
    pairs: list[LabelledPair] = []
    for article in articles:
        body = article.expected.body
        if len(body) <= 200:
            continue
        lines = body.split("\n")
        town = article.town
        pairs.append(LabelledPair(body, body + f"\n（来源：{town}）", True, "source line added"))
        respaced = "\n".join(" ".join(line[i:i + 40] for i in range(0, len(line), 40)) for line in lines)
        pairs.append(LabelledPair(body, respaced.replace("\n", "\n\n", 3), True, "whitespace changed"))
        pairs.append(LabelledPair(body, body.translate(_HALF_WIDTH), True, "punctuation changed"))
        pairs.append(LabelledPair(body, f"转发{town}工作总结\n{body}\n信息来源：{town}人民政府", True,
                                  "repost header and source"))
        other = rng.choice(bodies)
        if other != body and len(lines) >= 4:
            half = len(lines) // 2
            mixed = "\n".join(lines[:half] + other.split("\n")[half:])
            pairs.append(LabelledPair(body, mixed, False, "half-year vs annual sharing paragraphs"))
    for a, b in itertools.combinations(bodies, 2):
        pairs.append(LabelledPair(a, b, False, "different report, shared stock text"))
    return pairs
