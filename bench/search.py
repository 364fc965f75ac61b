"""Search: latency of the readers' search (gongkai/app/web/queries.py) at 100,000 reports, and what the
index of migration 0008 costs to build and to keep.

Corpus: 100,000 report-sized bodies (~4,500 characters) of sentences from the seed pages (docs/seeds/),
so unrelated reports share stock phrases as real ones do, over 60 towns in 15 counties of 5 prefectures,
years 2015-2025. The same corpus every time (seeded).

Measured, each on the app's own SQL through a real connection (read-only, as the web app runs it):
- `build`: migration 0008's two steps on the loaded table: the folded text (UPDATE ... search_text) and
  CREATE INDEX of the character/pair GIN index, plus the index's size;
- `insert_per_report_ms`: what the trigger and the index add to inserting one report (1,000 reports,
  with and without them);
- latency p50/p95 (ms) of `search()` (first page of 20, snippets included) per query class, and of
  `count_and_facets()` (the search page's counts). The target: p95 <= 100 ms for a two-character query
  with filters.
"""

from __future__ import annotations

import hashlib
import random
import re
import statistics
import time

import psycopg

from bench.__main__ import SEEDS_DIR, drop_database, scratch_database

CITIES = ["丽水市", "金华市", "衢州市", "温州市", "台州市"]
COUNTY_NAMES = ["遂昌县", "松阳县", "缙云县", "武义县", "磐安县", "浦江县", "开化县", "常山县", "龙游县",
                "文成县", "泰顺县", "永嘉县", "仙居县", "天台县", "三门县"]
TOWN_STEMS = ["朱溪", "湖镇", "柳城", "大溪", "石门", "新桥", "双溪", "安仁", "古市", "白龙", "东坑", "上方",
              "云峰", "桃源", "金竹", "龙门", "高坪", "西畈", "北界", "南山"]
TWO_CHAR = ["振兴", "垃圾", "党建", "招商", "旅游", "消防", "民生", "养老", "河长", "防汛", "教育", "医疗"]


def _sentences() -> list[str]:
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))] or ["工作总结。"]
    return [x for seed in seeds for x in re.split(r"(?<=[。；！])", seed) if len(x.strip()) > 8]


def _sites() -> list[tuple[str, str, str, str]]:
    """(name, city, county, town) of 60 sites: 4 towns in each of 15 counties, 3 counties per city."""
    out = []
    for c, county in enumerate(COUNTY_NAMES):
        for t in range(4):
            stem = TOWN_STEMS[(c * 4 + t) % len(TOWN_STEMS)]
            town = f"{stem}{'镇' if t % 2 == 0 else '乡'}"
            out.append((f"site{c:02d}{t}", CITIES[c // 3], county, f"{county[:-1]}{town}"))
    return out


def load_corpus(conn: psycopg.Connection, n: int, seed: int = 22) -> None:
    """n reports (and their sites) by COPY: the trigger and index of 0008 as they stand decide their cost."""
    rng = random.Random(seed)
    sentences = _sentences()
    sites = _sites()
    with conn.cursor() as cur:
        with cur.copy("COPY sites (name, province, city, county, town, platform) FROM STDIN") as copy:
            for name, city, county, town in sites:
                copy.write_row((name, "浙江省", city, county, town, "jcms"))
        start = cur.execute("SELECT COALESCE(max(seq), 0) FROM reports").fetchone()[0]
        with cur.copy("COPY reports (seq, url, site, title, publisher, published_date, body, body_hash, content_hash,"
                      " period_year, kinds, withdrawn_at) FROM STDIN") as copy:
            for i in range(n):
                name, _city, _county, town = sites[rng.randrange(len(sites))]
                year = rng.randint(2015, 2025)
                kind = rng.choice(["工作总结", "工作计划", "工作总结和下一年工作思路", "上半年工作总结"])
                title = f"{town}{year}年{kind}"
                kinds = [k for k in ("总结", "计划", "思路") if k in kind]
                body = f"{title}\n" + "".join(rng.sample(sentences, min(60, len(sentences))))[:4500]
                if i % 97 == 0:
                    body += f"\n全年GDP增长{rng.choice(['6.5%', '6.5％', '7.2%'])}。"
                digest = hashlib.sha256(f"{i}".encode()).digest()
                published = f"{year + rng.randint(0, 1)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                copy.write_row((start + i + 1, f"http://{name}.example/art/{i}.html", name, title, town, published,
                                body, digest, digest, year, "{" + ",".join(kinds) + "}",
                                "2025-01-01 00:00+00" if i % 50 == 0 else None))
        cur.execute("UPDATE feed_counter SET seq = (SELECT max(seq) FROM reports)")
    conn.commit()


def _migration_statement(start: str) -> str:
    """The statement of migration 0008 that starts with `start` (what the bench times is what it runs)."""
    from gongkai.db import migration_files

    sql = next(text for version, _, text in migration_files() if version == 8)
    found = re.search(rf"^{re.escape(start)}[^;]*;", sql, flags=re.M)
    assert found, start
    return found.group(0)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000, 1)


def run(results: dict, quick: bool) -> None:
    from gongkai.app.web import queries
    from gongkai.db import migrate

    n = 500 if quick else 100_000
    repeats = 5 if quick else 60
    url = scratch_database()
    out: dict = {"reports": n}
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
            conn.commit()
            # Load without the search trigger and index, then time migration 0008's two steps on the table.
            conn.execute("ALTER TABLE reports DISABLE TRIGGER reports_search_text_insert")
            conn.execute("DROP INDEX reports_search")
            conn.commit()
            started = time.perf_counter()
            load_corpus(conn, n)
            out["load_seconds_without_search"] = round(time.perf_counter() - started, 1)
            conn.execute("ALTER TABLE reports ENABLE TRIGGER reports_search_text_insert")
            started = time.perf_counter()
            conn.execute(_migration_statement("UPDATE reports SET search_text"))
            conn.commit()
            fold_s = time.perf_counter() - started
            conn.execute("SET maintenance_work_mem = '256MB'")
            started = time.perf_counter()
            conn.execute(_migration_statement("CREATE INDEX reports_search"))
            conn.commit()
            index_s = time.perf_counter() - started
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE reports")
            conn.autocommit = False
            size = conn.execute("SELECT pg_relation_size('reports_search'),"
                                " pg_total_relation_size('reports')").fetchone()
            out["build"] = {"search_text_seconds": round(fold_s, 1), "index_seconds": round(index_s, 1),
                            "index_mb": round(size[0] / 2**20), "reports_total_mb": round(size[1] / 2**20)}
            out["insert_per_report_ms"] = _insert_cost(conn, 100 if quick else 1000)

        pool = queries.ReadOnlyPool(url, size=1)
        rng = random.Random(7)
        sites = _sites()
        classes = {
            "two_chars_with_filters": lambda: {"q": rng.choice(TWO_CHAR), "county": rng.choice(sites)[2],
                                               "year": str(rng.randint(2015, 2025))},
            "two_chars_city_kind": lambda: {"q": rng.choice(TWO_CHAR), "city": rng.choice(CITIES),
                                            "kind": rng.choice(["总结", "计划"])},
            "two_chars_no_filter": lambda: {"q": rng.choice(TWO_CHAR)},
            "one_char": lambda: {"q": rng.choice("镇乡村党民河"), "county": rng.choice(sites)[2]},
            "four_chars": lambda: {"q": rng.choice(["乡村振兴", "垃圾分类", "招商引资", "共同富裕"]),
                                   "year": str(rng.randint(2015, 2025))},
            "rare_mixed": lambda: {"q": rng.choice(["6.5%", "GDP增长", "2023年"])},
            "browse_filters_only": lambda: {"town": rng.choice(sites)[3]},
        }
        latency: dict = {}
        for name, make in classes.items():
            page_times, count_times, found = [], [], []
            for _ in range(repeats):
                filters = queries.parse_filters(make())
                with pool.transaction() as conn:
                    started = time.perf_counter()
                    page = queries.search(conn, filters, 20)
                    page_times.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    facets = queries.count_and_facets(conn, filters)
                    count_times.append(time.perf_counter() - started)
                found.append(facets["total"])
                assert len(page.items) == min(20, facets["total"])
            latency[name] = {"search_p50_ms": _pct(page_times, 50), "search_p95_ms": _pct(page_times, 95),
                             "counts_p50_ms": _pct(count_times, 50), "counts_p95_ms": _pct(count_times, 95),
                             "median_matches": int(statistics.median(found))}
        pool.close()
        out["latency"] = latency
        out["target_two_chars_with_filters_p95_ms"] = 100
        out["target_met"] = latency["two_chars_with_filters"]["search_p95_ms"] <= 100
    finally:
        drop_database(url)
    results["search"] = out


def _insert_cost(conn: psycopg.Connection, n: int) -> dict:
    """ms per report of INSERTing n reports with the search trigger and index, and without them."""
    sentences = _sentences()
    rng = random.Random(3)
    rows = []
    for i in range(n):
        body = "".join(rng.sample(sentences, min(60, len(sentences))))[:4500]
        digest = hashlib.sha256(f"x{i}".encode()).digest()
        rows.append((f"http://insert.example/{i}", "site000", f"插入测试{i}年工作总结", body, digest, digest))

    def timed() -> float:
        """Seconds to insert the rows, in a transaction the caller rolls back."""
        base = conn.execute("SELECT max(seq) FROM reports").fetchone()[0]
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash)"
                            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            [(base + k + 1, *row) for k, row in enumerate(rows)])
        return time.perf_counter() - started

    with_search = timed()
    conn.rollback()
    conn.execute("ALTER TABLE reports DISABLE TRIGGER reports_search_text_insert")
    conn.execute("DROP INDEX reports_search")
    without = timed()
    conn.rollback()  # puts the trigger and index back (DDL is transactional)
    return {"with_search": round(with_search / n * 1000, 2), "without_search": round(without / n * 1000, 2)}


if __name__ == "__main__":
    import json
    import sys

    res: dict = {}
    run(res, "--quick" in sys.argv)
    print(json.dumps(res, ensure_ascii=False, indent=1))
