"""VideoDenoiser and the shipped video models: jointly homogeneous files, a real gain from the
past on a still scene, recovery after a cut, reset, the frame contract, and the CLI using them
for videos."""
import json
import os
import warnings

import numpy as np
import pytest

from bfcnn.evaluation import add_noise, load_set, psnr
from bfcnn.runtime import Denoiser, VideoDenoiser, cli, pyramid
from bfcnn.runtime.core_model import CoreModel
from bfcnn.video_scenes import scene
from bfcnn.zoo import ModelError, resolve
from tests.conftest import require_set

VIDEO_MODELS = ("edge_color_video", "edge_gray_video")
STILL = {"edge_color_video": "edge_color_realtime", "edge_gray_video": "edge_gray_realtime"}


def _frames(name, kind, sigma=25.0, frames=10, seed=0):
    require_set("Kodak24")
    imgs = [im if im.shape[1] >= im.shape[0] else np.ascontiguousarray(np.rot90(im))
            for im in load_set("Kodak24", limit=2)]
    if resolve(name).channels == 1:
        imgs = [im.mean(axis=2, keepdims=True).astype(np.uint8) for im in imgs]
    clean = scene(kind, imgs[0], imgs[1], frames=frames, size=(240, 320), seed=seed)
    rng = np.random.default_rng(seed)
    noisy = [add_noise(c, sigma, rng) for c in clean]
    return clean, noisy


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_shipped_video_model_is_jointly_homogeneous(name):
    card = resolve(name)
    assert card.temporal and card.bias_free
    core = CoreModel(card.file_for("none"), 2)
    rng = np.random.default_rng(0)
    y = rng.random((64, 96, card.channels), dtype=np.float32)
    past = rng.random((64, 96, card.channels), dtype=np.float32)

    def run(a, b):
        levels = pyramid.pyramid_down(a, card.levels, 1.0) + pyramid.pyramid_down(b, card.levels, 1.0)
        return core([lvl if lvl.ndim == 3 else lvl[:, :, None] for lvl in levels])
    base = run(y, past)
    for a in (0.25, 3.0):
        np.testing.assert_allclose(run(a * y, a * past), a * base, rtol=2e-4, atol=2e-5)
    assert np.abs(run(0 * y, 0 * past)).max() == 0.0
    assert np.abs(run(y, y) - base).max() > 1e-3          # the past is an input that matters


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_the_past_pays_on_a_still_scene(name):
    clean, noisy = _frames(name, "static")
    still, video = Denoiser(STILL[name], num_threads=2), VideoDenoiser(name, num_threads=2)
    single = np.mean([psnr(still(y), c) for y, c in zip(noisy[5:], clean[5:])])
    outs = [video(y) for y in noisy]
    temporal = np.mean([psnr(o, c) for o, c in zip(outs[5:], clean[5:])])
    assert temporal > single + 0.5, (temporal, single)
    assert video.stats.frames == 10 and video.stats.restarts == 1 and video.stats.cuts == 0


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_a_cut_is_detected_and_costs_at_most_a_frame(name):
    clean, noisy = _frames(name, "cut", frames=10)
    still, video = Denoiser(STILL[name], num_threads=2), VideoDenoiser(name, num_threads=2)
    outs = [video(y) for y in noisy]
    assert video.stats.cuts == 1 and video.stats.restarts == 2
    k = 5
    for t in (k, k + 1):
        assert psnr(outs[t], clean[t]) > psnr(still(noisy[t]), clean[t]) - 0.2, t


def test_reset_and_a_new_size_forget_the_past():
    _, noisy = _frames("edge_color_video", "static", frames=4)
    video = VideoDenoiser(num_threads=2)
    fresh = VideoDenoiser(num_threads=2)(noisy[3])
    for y in noisy[:3]:
        video(y)
    assert not np.array_equal(video(noisy[3]), fresh)      # the past changed the output
    video.reset()
    assert np.array_equal(video(noisy[3]), fresh)
    video(noisy[0])
    small = np.ascontiguousarray(noisy[3][:100, :130])
    assert np.array_equal(video(small), VideoDenoiser(num_threads=2)(small))
    assert video.stats.restarts == 3


def test_frame_contract_and_clear_errors():
    video = VideoDenoiser(num_threads=1)
    assert video.card.name == "edge_color_video"
    rng = np.random.default_rng(0)
    f = rng.random((37, 51, 3), dtype=np.float32)
    out = video(f)
    assert out.shape == f.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gray = video(rng.integers(0, 256, (37, 51), dtype=np.uint8))
    assert gray.shape == (37, 51) and gray.dtype == np.uint8
    with pytest.raises(ValueError, match="colour video model"):
        VideoDenoiser("edge_gray_video", num_threads=1)(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="0-255 data"):
        video(f * 255)
    with pytest.raises(ModelError, match="still model"):
        VideoDenoiser("edge_color_realtime")
    with pytest.raises(ModelError, match="VideoDenoiser"):
        Denoiser("edge_color_video")
    with pytest.raises(ValueError, match="strength"):
        VideoDenoiser(strength=2.0)


def test_cli_denoises_videos_with_the_frames_before(tmp_path, capsys):
    clip = os.path.join(cli.SAMPLES, "sample_clip.mp4")
    for extra, model in (([], "frame averaging + edge_color_realtime"),
                         (["--temporal", "model"], "edge_color_video"), (["--no-temporal"], "")):
        stats = tmp_path / f"s{len(extra)}{len(model)}.json"
        assert cli.main(["--input", clip, "--output", str(tmp_path / f"o{len(extra)}{len(model)}.mp4"), "--threads", "2",
                         "--stats", str(stats)] + extra) == 0
        data = json.loads(stats.read_text())
        assert data["temporal_model"] == model and data["processed"] > 10
        assert data["temporal_restarts"] == (1 if model else 0)
    err = capsys.readouterr().err
    assert "with the frames before (edge_color_video)" in err
    assert "with the frames before (frame averaging + edge_color_realtime)" in err
    assert cli.main(["--input", clip, "--output", str(tmp_path / "e.mp4"), "--ensemble", "2"]) == 2
    assert "--no-temporal" in capsys.readouterr().err
    assert cli.main(["--input", clip, "--output", str(tmp_path / "t.mp4"), "--temporal", "model", "--tile", "256"]) == 2
    assert "--temporal average or --no-temporal" in capsys.readouterr().err


def test_past_share_shows_where_the_past_is_used_and_leaves_the_stream_alone():
    clean, noisy = _frames("edge_color_video", "object", frames=8)
    video, twin = VideoDenoiser(num_threads=2), VideoDenoiser(num_threads=2)
    assert video.past_share(noisy[0]).max() == 0.0                # no past yet
    for y in noisy[:7]:
        video(y)
        twin(y)
    share = video.past_share(noisy[7])
    assert np.array_equal(video(noisy[7]), twin(noisy[7]))          # asking did not advance the stream
    moving = np.abs(clean[7].astype(int) - clean[6]).mean(axis=2) > 20
    assert share.shape == noisy[7].shape[:2] and 0.0 <= share.min() and share.max() <= 1.0
    assert share[~moving].mean() > 0.1 and share[moving].mean() < 0.5 * share[~moving].mean()


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_a_first_frame_is_the_still_models(name):
    """No past (a first frame, a reset, a cut): the trust is exactly 0, so the output is the
    still model's, to the rounding of a different graph."""
    _, noisy = _frames(name, "static", frames=1)
    first = VideoDenoiser(name, num_threads=2)(noisy[0]).astype(int)
    still = Denoiser(STILL[name], num_threads=2)(noisy[0]).astype(int)
    assert np.abs(first - still).max() <= 1 and np.mean(first != still) < 0.01


def test_any_change_of_frame_shape_or_dtype_starts_over():
    _, noisy = _frames("edge_color_video", "static", frames=2)
    video = VideoDenoiser(num_threads=2)
    video(noisy[0])
    for frame in (noisy[1][:238, :318], noisy[1][:238, :318, 1], noisy[1].astype(np.float32) / 255):
        before = video.stats.restarts
        out = video(np.ascontiguousarray(frame))
        assert video.stats.restarts == before + 1
        assert np.array_equal(out, VideoDenoiser(num_threads=2)(np.ascontiguousarray(frame)))


def test_an_error_mid_frame_leaves_the_denoiser_usable_while_the_exception_is_kept(monkeypatch):
    """A notebook keeps the last traceback; it must not keep views of LiteRT's buffers alive."""
    clean, noisy = _frames("edge_color_video", "static", frames=3)
    video = VideoDenoiser(num_threads=2)
    video(noisy[0])
    real = pyramid.pyramid_down
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:                       # the past's pyramid, views in hand
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(pyramid, "pyramid_down", failing)
    with pytest.raises(KeyboardInterrupt) as kept:   # kept alive, as a REPL keeps the last exception
        video(noisy[1])
    assert len(calls) == 2 and kept.value is not None
    monkeypatch.setattr(pyramid, "pyramid_down", real)
    after = video(noisy[2])                        # the interpreter is usable again, and denoises
    assert after.shape == noisy[2].shape and psnr(after, clean[2]) > psnr(noisy[2], clean[2]) + 3
