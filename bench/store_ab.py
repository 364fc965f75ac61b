"""A/B of the store: gongkai/ingest/store.py as it is at a git revision vs the working tree, in one process.

    .venv/bin/python -m bench.store_ab REV [--rows 2000] [--rounds 6] [--batch 100]

On a shared machine two runs of the same store differ by more than most changes to it; alternating the
two versions round by round in one process, into emptied tables (CHECKPOINT before each), is what
measured hot spots 15 and 16 of BENCHMARKS.md. Prints, per side, wall and client-CPU seconds (min and
median over the rounds) and whether both wrote the same rows. The old module runs against the working
tree's helpers (similarity, derive, models): compare revisions whose store interface matches.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import psycopg

from bench.__main__ import ROOT, drop_database, scratch_database, store_corpus, store_in_batches

STORE = "gongkai/ingest/store.py"


def store_at(revision: str) -> ModuleType:
    """The store module as it was at `revision` (git show), imported under a name of its own."""
    source = subprocess.run(["git", "show", f"{revision}:{STORE}"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="gongkai-ab-")) / "store_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("store_at_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is being built
    spec.loader.exec_module(module)
    return module


def written_rows(conn: psycopg.Connection) -> list[tuple]:
    """A digest of what a run wrote, blind to ids' and timestamps' values (each run restarts the ids)."""
    return [conn.execute(sql).fetchone() for sql in (
        "SELECT count(*), md5(string_agg(b::text, ',' ORDER BY b::text)) FROM report_bands b",
        "SELECT count(*), md5(string_agg(row(url, report_id, relation)::text, ',' ORDER BY url)) FROM report_urls",
        "SELECT count(*), md5(string_agg(row(seq, url, article_key, title, body, metadata, attachments, kinds, bands,"
        " body_hash, content_hash)::text, ',' ORDER BY id)) FROM reports")]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="git revision whose store.py is side A (B is the working tree)")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch", type=int, default=None, help="pages per batch (default: ingest's BATCH_SIZE)")
    args = parser.parse_args()
    from gongkai.db import migrate
    from gongkai.ingest import store as current
    from gongkai.ingest.run import BATCH_SIZE

    try:
        sides = {args.revision: store_at(args.revision), "working tree": current}
    except subprocess.CalledProcessError as exc:
        parser.error(f"cannot read {STORE} at {args.revision}: {exc.stderr.strip()}")
    batch = args.batch or BATCH_SIZE
    database_url = scratch_database()
    try:
        with psycopg.connect(database_url) as conn:
            migrate(conn)
            articles = store_corpus(conn, args.rows)
            prints = {name: [module.fingerprint(fields) for _, fields in articles] for name, module in sides.items()}
            gc.collect()
            gc.freeze()
            wall: dict[str, list[float]] = {name: [] for name in sides}
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            digests: dict[str, list[tuple]] = {}
            for round_no in range(args.rounds):
                order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
                for name in order:
                    conn.execute("TRUNCATE reports, report_urls, report_bands, report_versions RESTART IDENTITY")
                    conn.execute("UPDATE feed_counter SET seq = 0")
                    conn.commit()
                    conn.execute("CHECKPOINT")
                    started, cpu_started = time.perf_counter(), time.process_time()
                    store_in_batches(conn, sides[name], articles, prints[name], batch)
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
                    digests.setdefault(name, written_rows(conn))
            gc.unfreeze()
    finally:
        drop_database(database_url)
    print(f"{args.rows} rows, batches of {batch}, {args.rounds} alternating rounds")
    for name in sides:
        print(f"{name:>14}: wall min {min(wall[name]):.3f} s, median {statistics.median(wall[name]):.3f} s;"
              f" client CPU min {min(cpu[name]):.3f} s, median {statistics.median(cpu[name]):.3f} s")
    same = len({tuple(d) for d in digests.values()}) == 1
    print("same rows written" if same else "the two sides wrote DIFFERENT rows")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
