"""The C++ pyramid op: installed as the backend, equal to cv2.pyrDown and to the numpy
reference on every level and odd size, zero-copy on any strides, ValueError on bad input."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bfcnn.runtime import pyramid as P

SIZES = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 5), (17, 31), (480, 640), (479, 641)]


def _cv2_levels(img_f, levels):
    out = [img_f]
    for _ in range(1, levels):
        out.append(cv2.pyrDown(out[-1]))
    return out


def test_backend_is_cpp():
    assert P.BACKEND == "cpp", "C++ op not built: run `pip install .`"


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("channels", [0, 1, 3, 4])
def test_float32_matches_cv2(shape, channels):
    rng = np.random.default_rng(sum(shape) + channels)
    full = shape + ((channels,) if channels else ())
    img = rng.random(full, dtype=np.float32)
    ours = P.pyramid_down(img, 4)
    for k, ref in enumerate(_cv2_levels(img, 4)):
        assert ours[k].dtype == np.float32
        h, w = shape
        for _ in range(k):
            h, w = (h + 1) // 2, (w + 1) // 2
        assert ours[k].shape == (h, w) + ((channels,) if channels else ())
        assert np.max(np.abs(ours[k] - ref.reshape(ours[k].shape))) <= 1e-5


@pytest.mark.parametrize("shape", SIZES)
def test_uint8_within_one_lsb_of_cv2_uint8(shape):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    ours = P.pyramid_down(img, 4)  # float32 output, unrounded
    ref = img
    for k in range(4):
        assert np.max(np.abs(ours[k] - ref.astype(np.float32))) <= 1.0
        ref = cv2.pyrDown(ref).reshape(ours[min(k + 1, 3)].shape) if k < 3 else ref


def test_scale_is_fused_into_level0():
    img = np.full((5, 7, 3), 255, np.uint8)
    levels = P.pyramid_down(img, 3, scale=1.0 / 255.0)
    for lvl in levels:
        np.testing.assert_allclose(lvl, 1.0, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), c=st.sampled_from([0, 1, 2, 3, 4]),
       levels=st.integers(1, 7), dtype=st.sampled_from([np.uint8, np.float32]),
       flip=st.booleans(), step=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_cpp_equals_numpy_reference_on_random_views(h, w, c, levels, dtype, flip, step, seed):
    rng = np.random.default_rng(seed)
    shape = (h * step, w * step) + ((c,) if c else ())
    base = (rng.random(shape) * 255).astype(dtype) if dtype == np.uint8 else rng.random(shape, dtype=np.float32)
    view = base[::step, ::step]
    if flip:
        view = view[::-1, ::-1]  # negative strides
    a = P.pyramid_down(view, levels, 0.5, backend="cpp")
    b = P.pyramid_down(np.ascontiguousarray(view), levels, 0.5, backend="numpy")
    assert len(a) == len(b) == levels
    for x, y in zip(a, b):
        assert x.shape == y.shape
        assert np.max(np.abs(x - y)) <= 1e-4 * (255 if dtype == np.uint8 else 1)


@pytest.mark.parametrize("bad, err", [
    (np.zeros((4,), np.uint8), ValueError),
    (np.zeros((2, 3, 4, 5), np.uint8), ValueError),
    (np.zeros((4, 4, 5), np.uint8), ValueError),
    (np.zeros((0, 4), np.uint8), ValueError),
    (np.zeros((4, 4), np.int64), ValueError),
    (np.zeros((4, 4), np.float64), ValueError),
    (np.zeros((4, 4), bool), ValueError),
    ([[1, 2], [3, 4]], TypeError),
])
def test_bad_input_raises_not_crashes(bad, err):
    with pytest.raises(err):
        P.pyramid_down(bad, 3)


@pytest.mark.parametrize("levels", [0, -1, 17, 2.5])
def test_bad_levels(levels):
    with pytest.raises(ValueError, match="levels"):
        P.pyramid_down(np.zeros((4, 4), np.uint8), levels)


def test_cpp_layer_rejects_bad_input_directly():
    from bfcnn.runtime import _pyramid
    with pytest.raises(ValueError):
        _pyramid.pyramid_down(np.zeros((4, 4), np.int16), 2, 1.0)
    with pytest.raises(ValueError):
        _pyramid.pyramid_down(np.zeros((4, 4, 7), np.uint8), 2, 1.0)
    with pytest.raises(ValueError):
        _pyramid.pyr_up(np.zeros((4, 4), np.float32), 3, 8)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (64, 48, 3), (33, 17, 3)])
def test_laplacian_reconstruction_is_exact(shape):
    rng = np.random.default_rng(3)
    img = rng.random(shape, dtype=np.float32)
    bands = P.laplacian_pyramid(img, 4)
    np.testing.assert_allclose(P.reconstruct(bands), img, atol=1e-5)


def test_pyr_up_matches_cv2_away_from_borders():
    rng = np.random.default_rng(5)
    img = rng.random((20, 30, 3), dtype=np.float32)
    ours = P.pyr_up(img, (40, 60))
    ref = cv2.pyrUp(img)
    np.testing.assert_allclose(ours[4:-4, 4:-4], ref[4:-4, 4:-4], atol=1e-5)
    np.testing.assert_allclose(P.pyr_up(img, (40, 60)), P._up_numpy(img, (40, 60)), atol=1e-5)


def test_gil_released_threads_agree():
    from concurrent.futures import ThreadPoolExecutor
    img = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    want = P.pyramid_down(img, 4)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: P.pyramid_down(img, 4), range(8)))
    for res in results:
        for a, b in zip(res, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1080, 1920, 3), (481, 321), (97, 1001, 3), (64, 40, 1), (300, 7, 3)])
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threaded_pyramid_equals_one_thread(shape, threads):
    """Rows in parallel bands give exactly the single-thread result (and the numpy reference)."""
    img = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    one = P.pyramid_down(img, 4, 1 / 255, threads=1)
    many = P.pyramid_down(img, 4, 1 / 255, threads=threads)
    assert all(np.array_equal(a, b) for a, b in zip(one, many))
    ref = P.pyramid_down(img, 4, 1 / 255, backend="numpy")
    assert all(np.abs(a - r).max() < 1e-5 for a, r in zip(many, ref))


@pytest.mark.parametrize("bad", [0, 65, 1.5, True])
def test_pyramid_threads_are_validated(bad):
    with pytest.raises(ValueError, match="threads must be"):
        P.pyramid_down(np.zeros((8, 8), np.uint8), 2, threads=bad)
