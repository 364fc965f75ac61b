"""Near-duplicate fingerprints for report bodies: MinHash over character shingles, banded for LSH.

Exact keys catch most duplicates; this catches reposts whose text differs by a 来源 line, spacing or
punctuation. MinHash (datasketch) only proposes candidates through the band hashes stored in
Postgres; the decision is a real Jaccard similarity of the two bodies' shingle sets, against a
threshold measured on a labelled set (tests/test_dedup.py, BENCHMARKS.md). A 64-bit SimHash was
measured too fragile for Chinese text (lessons.md).
"""

from __future__ import annotations

import hashlib
import re
import struct

import numpy as np

SHINGLE = 5
NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: candidates from Jaccard ~0.4 up, far below the decision threshold
ROWS = NUM_PERM // BANDS
# A candidate must share this many of the 32 bands. At Jaccard 0.95 two bodies share 26 bands on
# average (32 x 0.95^4) and fewer than 16 with probability ~1e-6; unrelated reports share none.
MIN_SHARED_BANDS = 16
# Decision threshold on shingle Jaccard. Measured on gongkai.replica.dedup_cases: reposts score >= 0.98,
# the hardest non-duplicates (other towns' reports built from the same stock paragraphs) <= 0.93.
NEAR_DUPLICATE_JACCARD = 0.95

# Everything but letters and digits goes: reposts differ in punctuation and spacing, not in words.
_NOISE = re.compile(r"[\W_]+", re.UNICODE)
# A repost adds a source line such as （来源：某某镇） or 信息来源：某某镇.
_SOURCE_LINE = re.compile(r"^[（(【\[]?\s*(信息)?来源\s*[:：].{0,40}$")


def normalise(body: str) -> str:
    lines = [line for line in body.splitlines() if not _SOURCE_LINE.match(line.strip())]
    return _NOISE.sub("", "".join(lines)).lower()


def shingles(body: str) -> set[str]:
    text = normalise(body)
    if len(text) <= SHINGLE:
        return {text} if text else set()
    return {text[i:i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _shingle_hashes(shingle_set: set[str]) -> np.ndarray:
    """Stable 32-bit hashes of the shingles, computed in numpy: hashing each one in Python (what
    MinHash.update_batch does) was two thirds of ingest time per page."""
    if not shingle_set:
        return np.zeros(0, dtype=np.uint64)
    codes = np.frombuffer("".join(sorted(shingle_set)).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    codes = codes.reshape(-1, SHINGLE) if all(len(s) == SHINGLE for s in shingle_set) else None
    if codes is None:  # a body shorter than one shingle
        return np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")
                         for s in shingle_set], dtype=np.uint64)
    hashes = np.zeros(codes.shape[0], dtype=np.uint64)
    for column in range(SHINGLE):  # FNV-1a over the code points, kept to 32 bits
        hashes = ((hashes ^ codes[:, column]) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)
    return hashes


def band_hashes(shingle_set: set[str]) -> list[int]:
    """One signed 64-bit hash per LSH band (band number mixed in), for a Postgres bigint index."""
    from datasketch import MinHash  # here, not at the top: datasketch imports scipy (~1.5 s), which every
    # `gongkai crawl` paid through mark_delisted -> store -> similarity

    minhash = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=int)
    minhash.update_batch(_shingle_hashes(shingle_set).tolist())
    values = minhash.hashvalues
    out = []
    for band in range(BANDS):
        chunk = struct.pack(f"<I{ROWS}Q", band, *(int(v) for v in values[band * ROWS:(band + 1) * ROWS]))
        out.append(struct.unpack("<q", hashlib.blake2b(chunk, digest_size=8).digest())[0])
    return out
