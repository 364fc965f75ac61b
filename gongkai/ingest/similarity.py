"""Near-duplicate fingerprints for report bodies: MinHash over character shingles, banded for LSH.

Exact keys catch most duplicates; this catches reposts whose text differs by a 来源 line, spacing or
punctuation. MinHash (datasketch's scheme, see `minhash`) only proposes candidates through the band
hashes stored in Postgres; the decision is a real Jaccard similarity of the two bodies' shingle sets, against a
threshold measured on a labelled set (tests/test_dedup.py, BENCHMARKS.md). A 64-bit SimHash was
measured too fragile for Chinese text (docs/lessons.md).
"""

from __future__ import annotations

import functools
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
# Decision threshold on shingle Jaccard. Measured on gongkai_replica.dedup_cases: reposts score >= 0.98,
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
    return normalised_shingles(normalise(body))


def normalised_shingles(text: str) -> set[str]:
    """The SHINGLE-character shingles of an already normalised text."""
    if len(text) <= SHINGLE:
        return {text} if text else set()
    return {text[i:i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _fnv(windows: np.ndarray) -> np.ndarray:
    """FNV-1a (from 0) over the code points of each row, kept to 32 bits."""
    hashes = np.zeros(windows.shape[0], dtype=np.uint64)
    for column in range(windows.shape[1]):
        hashes = ((hashes ^ windows[:, column]) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)
    return hashes


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _short_hashes(shingle_set: set[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little")
                     for s in shingle_set], dtype=np.uint64)


def _shingle_hashes(shingle_set: set[str]) -> np.ndarray:
    """Stable 32-bit hashes of the shingles, computed in numpy: hashing each one in Python (what
    MinHash.update_batch does) was two thirds of ingest time per page."""
    if not shingle_set:
        return np.zeros(0, dtype=np.uint64)
    if not all(len(s) == SHINGLE for s in shingle_set):  # a body shorter than one shingle
        return _short_hashes(shingle_set)
    return _fnv(_codes("".join(shingle_set)).reshape(-1, SHINGLE))


def text_hashes(text: str) -> np.ndarray:
    """The hashes `_shingle_hashes` gives the shingles of a normalised text, taken straight off the text's
    sliding windows (repeats included: a MinHash ignores them), without building the set of strings."""
    if len(text) <= SHINGLE:
        return _shingle_hashes(normalised_shingles(text))
    return _fnv(np.lib.stride_tricks.sliding_window_view(_codes(text), SHINGLE))


# MinHash with datasketch 2.0's "affine32" scheme: every shingle hash goes through the MurmurHash3 32-bit
# finaliser, then through NUM_PERM affine maps h -> a*h + b (mod 2^32, a odd) drawn from
# RandomState(seed 1); the sketch is the column-wise minimum. Written out here (tests/test_dedup.py checks
# it equals datasketch.MinHash bit for bit, so stored band hashes stay valid) because importing
# datasketch imports scipy: 50 MB of memory and 0.45 s of start-up in every ingest worker, for nothing.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


@functools.cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the NUM_PERM affine maps, drawn as datasketch.MinHash(num_perm=NUM_PERM, seed=1) draws them."""
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def minhash(hashes: np.ndarray) -> np.ndarray:
    """The NUM_PERM MinHash values (uint32) of a set given as its 32-bit element hashes."""
    a, b = _permutations()
    if not len(hashes):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hashes.astype(np.uint32)
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    hv = hv ^ (hv >> s3)
    return (hv.reshape(-1, 1) * a + b).min(axis=0)


def band_hashes(shingle_set: set[str]) -> list[int]:
    """One signed 64-bit hash per LSH band (band number mixed in), for a Postgres bigint index."""
    return bands_of(minhash(_shingle_hashes(shingle_set)))


def bands_of(values: np.ndarray) -> list[int]:
    """The BANDS band hashes of a MinHash: ROWS values each, with the band number, through blake2b."""
    listed = values.tolist()
    out = []
    for band in range(BANDS):
        chunk = struct.pack(f"<I{ROWS}Q", band, *listed[band * ROWS:(band + 1) * ROWS])
        out.append(struct.unpack("<q", hashlib.blake2b(chunk, digest_size=8).digest())[0])
    return out
