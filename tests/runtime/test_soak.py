"""Soak: the stream pipeline with the real Denoiser keeps memory flat, latency steady, and
leaks no threads or file descriptors. 1,000 frames by default; 20,000 under `slow`."""
import pytest

from benchmarks.soak import soak


def _check(r, frames):
    assert r.frames == frames
    assert r.rss_slope_kb_per_1000 < 200, r       # a leaked 160x120x3 frame per frame would be ~57,600
    assert r.latency_last_ms < 2 * r.latency_first_ms + 10, r
    assert r.threads_after == r.threads_before, r
    assert r.fds_after <= r.fds_before, r


def test_soak_1000_frames():
    _check(soak(1000, 160, 120), 1000)


@pytest.mark.slow
def test_soak_20000_frames():
    _check(soak(20000, 320, 240), 20000)
