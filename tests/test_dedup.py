"""Near-duplicate detection measured on a labelled set, then exercised through the store."""

from __future__ import annotations

import functools

from gongkai.ingest.derive import parse_period
from gongkai.ingest.similarity import (
    MIN_SHARED_BANDS,
    NEAR_DUPLICATE_JACCARD,
    NUM_PERM,
    _shingle_hashes,
    band_hashes,
    jaccard,
    minhash,
    shingles,
)
from gongkai_replica.dedup_cases import labelled_pairs
from tests.test_store import HOST, fields, reports, stage, store


@functools.cache
def merge_decisions() -> list:
    """(pair, merged, LSH bands the two share: duplicates only). Not the shingle sets: kept for the whole
    session, those of the 13,550 bodies held 4 GB."""
    out = []
    for pair in labelled_pairs():
        a, b = shingles(pair.a), shingles(pair.b)
        shared = len(set(band_hashes(a)) & set(band_hashes(b))) if pair.duplicate else None
        out.append((pair, jaccard(a, b) >= NEAR_DUPLICATE_JACCARD, shared))
    return out


def test_precision_and_recall_on_the_labelled_set():
    tp = fp = fn = tn = 0
    for pair, merged, _ in merge_decisions():
        if pair.duplicate:
            tp, fn = tp + merged, fn + (not merged)
        else:
            fp, tn = fp + merged, tn + (not merged)
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"near-duplicate merge: precision {precision:.3f} recall {recall:.3f} (tp {tp} fp {fp} fn {fn} tn {tn})")
    assert tp > 400 and tn > 5000
    assert precision == 1.0, "merged reports that are not duplicates"
    assert recall >= 0.99


def test_our_minhash_equals_datasketch_bit_for_bit():
    """Stored band hashes depend on it: the in-house MinHash must stay datasketch's affine32 scheme."""
    import random

    from datasketch import MinHash

    rng = random.Random(7)
    bodies = [pair.a for pair in labelled_pairs()[:40]]
    bodies += ["".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(rng.randrange(6, 3000))) for _ in range(40)]
    for body in bodies:
        hashes = _shingle_hashes(shingles(body))
        reference = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=int)
        reference.update_batch(hashes.tolist())
        assert reference.hashvalues.tolist() == minhash(hashes).tolist()


def test_fingerprint_bands_equal_the_bands_of_the_shingle_set():
    """fingerprint() hashes the text's sliding windows instead of building the shingle set first."""
    from gongkai.ingest.store import MIN_SHINGLES, fingerprint
    from gongkai.models import ArticleFields

    bodies = [pair.b for pair in labelled_pairs()[:60]] + ["短", "二〇二四年", "一二三四五六七八九十" * 3, "重复" * 40]
    for body in bodies:
        fp = fingerprint(ArticleFields(title="t", body=body))
        expected = band_hashes(shingles(body)) if len(shingles(body)) >= MIN_SHINGLES else []
        assert fp.bands == expected
        assert fp.shingles == shingles(body)


def test_lsh_bands_propose_every_true_duplicate():
    missed = [pair.kind for pair, _, shared in merge_decisions() if pair.duplicate and shared < MIN_SHARED_BANDS]
    assert missed == []


def test_repost_found_first_yields_to_the_original(db):
    body = "\n".join(f"第{i}项：完成投资{i * 37}万元，同比增长{i}.5%。推进朱溪水库下游防冲护岸工程建设。" for i in range(30))
    county_repost = "http://www.zjxj.gov.cn/art/2024/8/9/art_1229300001_3950000.html"
    town_original = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    repost = fields(body=f"转发朱溪镇工作总结\n{body}\n（来源：朱溪镇）")
    repost.publisher, repost.index_no = "仙居县人民政府办公室", "113310240026812345/2024-000001"
    repost.published_date = "2024-08-09"
    assert store(db, stage(db, county_repost), repost) == "new"
    assert store(db, stage(db, town_original), fields(body=body)) == "original"
    (_, _, _, _, stored_body, _, urls), = reports(db)
    assert stored_body == body and urls == sorted([county_repost, town_original])
    publisher, url = db.execute("SELECT publisher, url FROM reports").fetchone()
    assert (publisher, url) == ("朱溪镇", town_original)
    relations = dict(db.execute("SELECT url, relation FROM report_urls").fetchall())
    assert relations == {town_original: "primary", county_repost: "repost"}



def test_a_same_day_repost_found_first_yields_to_the_unit_that_wrote_it(db):
    """A county office reposting a town's report on the day the town published it: the town's page is the
    original (its 索引号 and 发布机构 win), whichever URL the crawl found first; the county's stays an alias.
    Both orders, so the rule is about authorship and not about which page came first."""
    from gongkai.ingest.derive import unit_core, wrote_it

    assert unit_core("仙居县人民政府办公室") == "仙居县" and unit_core("朱溪镇人民政府") == "朱溪镇"
    assert wrote_it("朱溪镇2024年上半年工作总结", "朱溪镇人民政府")
    assert not wrote_it("朱溪镇2024年上半年工作总结", "仙居县人民政府办公室")
    body = "\n".join(f"第{i}项：完成投资{i * 41}万元，同比增长{i}.5%。推进朱溪镇美丽城镇建设。" for i in range(30))
    county_repost = "http://www.zjxj.gov.cn/art/2024/8/5/art_1229300001_3950001.html"
    town_original = f"{HOST}/art/2024/8/5/art_1229311252_3942863.html"
    repost = fields(body=f"{body}\n（来源：朱溪镇）")
    repost.publisher, repost.index_no = "仙居县人民政府办公室", "113310240026812345/2024-000002"
    assert repost.published_date == fields().published_date  # the same day
    assert store(db, stage(db, county_repost), repost) == "new"
    assert store(db, stage(db, town_original), fields(body=body)) == "original"
    publisher, index_no, url = db.execute("SELECT publisher, index_no, url FROM reports").fetchone()
    assert (publisher, index_no, url) == ("朱溪镇", "11331024734494628R/2024-129893", town_original)
    relations = dict(db.execute("SELECT url, relation FROM report_urls").fetchall())
    assert relations == {town_original: "primary", county_repost: "repost"}
    # The other order: the town's page first, the county's same-day repost after it, stays an alias.
    later = "http://www.zjxj.gov.cn/art/2024/8/5/art_1229300001_3950002.html"
    assert store(db, stage(db, later), repost) == "repost"
    assert db.execute("SELECT publisher FROM reports").fetchone() == ("朱溪镇",)


def test_half_year_and_annual_summaries_stay_apart(db):
    shared = "\n".join(f"一是推进第{i}批项目建设，完成投资{i * 11}万元。" for i in range(20))
    half = shared + "\n" + "\n".join(f"上半年完成第{i}项任务。" for i in range(20))
    annual = shared + "\n" + "\n".join(f"全年完成第{i}项重点工作，超额{i}%。" for i in range(40))
    store(db, stage(db, f"{HOST}/art/2024/7/5/art_1229311252_1.html"), fields(body=half, title="2024年上半年工作总结"))
    assert store(db, stage(db, f"{HOST}/art/2025/1/5/art_1229311252_2.html"),
                 fields(body=annual, title="2024年工作总结")) == "new"
    assert len(reports(db)) == 2


def test_period_and_kind_from_titles():
    cases = {
        "朱溪镇2024年上半年工作总结和下半年计划": (2024, "H1", ["总结", "计划"]),
        "大洲镇2023年工作总结和2024年工作计划": (2023, "year", ["总结", "计划"]),
        "三魁镇2023年工作总结及2024年工作方向": (2023, "year", ["总结", "思路"]),
        "柳城畲族镇2024年上半年工作总结和下半年工作思路": (2024, "H1", ["总结", "思路"]),
        "某镇2024年下半年工作打算": (2024, "H2", ["思路"]),
        "玉山镇2023年度工作总结": (2023, "year", ["总结"]),
        "关于印发工作要点的通知": (None, None, ["计划"]),
    }
    for title, (year, half, kinds) in cases.items():
        period = parse_period(title)
        assert (period.year, period.half, period.kinds) == (year, half, kinds), title


def test_same_words_for_another_period_is_another_report(db):
    body = "\n".join(f"第{i}项：完成投资{i * 37}万元，推进水库下游防冲护岸工程建设。" for i in range(30))
    store(db, stage(db, f"{HOST}/art/2024/7/5/art_1229311252_11.html"),
          fields(body=body, title="朱溪镇2024年上半年工作总结"))
    assert store(db, stage(db, f"{HOST}/art/2025/1/5/art_1229311252_12.html"),
                 fields(body=body + "\n（来源：朱溪镇）", title="朱溪镇2024年下半年工作总结")) == "new"
    assert len(reports(db)) == 2
