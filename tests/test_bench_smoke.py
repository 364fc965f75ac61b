"""The benchmark suite's tiny smoke run: it must keep working (numbers are not judged here)."""

import json
import subprocess
import sys
from pathlib import Path


def test_bench_quick_runs():
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "bench", "--quick"], cwd=root, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(result.stdout)
    assert results["crawl"]["staged"] == results["crawl"]["articles"]
    assert results["ingest"]["pages"] == results["crawl"]["staged"]
    assert results["dedup"]["sweep"][str(results["dedup"]["threshold"])]["precision"] == 1.0
    assert all(row["ours_bodies_with_chrome"] == 0 for row in results["extraction"].values())
    # Request counts, not timings: a routine recrawl reads first listing pages and new articles only.
    assert results["recrawl"]["worst_ratio"] <= 1.05, results["recrawl"]["runs"]
    assert all(run["new_articles_staged"] == run["new_articles"] for run in results["recrawl"]["runs"][1:])


def test_store_ab_runs_and_compares_what_both_sides_wrote():
    """bench.store_ab: the store at a revision vs the working tree (here the same file: same rows)."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "bench.store_ab", "HEAD", "--rows", "30", "--rounds", "2",
                             "--batch", "10"], cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "same rows written" in result.stdout and "working tree: wall" in result.stdout
