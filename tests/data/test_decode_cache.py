"""The decoded-file cache: same pixels as decoding, safe against in-place edits, re-reads changed
files, stays within its byte budget."""
import os

import cv2
import numpy as np

from seglab.data import io
from seglab.data.io import DecodedCache, read_image, read_label


def write_png(path, array, mtime_ns=None):
    cv2.imwrite(str(path), array)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_cached_reads_equal_fresh_decodes_and_are_copies(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_CACHE", DecodedCache(2**20))
    img = np.random.default_rng(0).integers(0, 255, (8, 9, 3), dtype=np.uint8)
    write_png(tmp_path / "a.png", img)
    first = read_image(str(tmp_path / "a.png"))
    first[:] = 0  # a transform editing its input in place
    second = read_image(str(tmp_path / "a.png"))
    assert np.array_equal(second, img) and len(io._CACHE.entries) == 1


def test_a_changed_file_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_CACHE", DecodedCache(2**20))
    path = tmp_path / "l.png"
    write_png(path, np.zeros((4, 4), np.uint8), mtime_ns=10**18)
    assert read_label(str(path)).max() == 0
    write_png(path, np.ones((4, 4), np.uint8), mtime_ns=2 * 10**18)
    assert read_label(str(path)).max() == 1


def test_budget_evicts_least_recently_used():
    cache = DecodedCache(max_bytes=250)
    for key in "abc":
        cache.get((key,), lambda: np.zeros(100, np.uint8))
    assert list(cache.entries) == [("b",), ("c",)] and cache.bytes == 200
    cache.get(("b",), lambda: np.ones(100, np.uint8))  # hit: b becomes most recent, not re-decoded
    cache.get(("d",), lambda: np.zeros(100, np.uint8))
    assert list(cache.entries) == [("b",), ("d",)] and cache.entries[("b",)].max() == 0


def test_zero_budget_disables_the_cache():
    cache = DecodedCache(max_bytes=0)
    cache.get(("a",), lambda: np.zeros(10, np.uint8))
    assert not cache.entries
