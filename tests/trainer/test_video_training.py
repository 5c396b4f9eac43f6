"""Temporal models in the trainer: the sequences (motion, shifts, one camera per sequence), the
graph (a still model's weights start it as that still model; jointly homogeneous), the TF
alignment against the runtime's, config checks, and a tiny real training + export."""
import json

import numpy as np
import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline
from bfcnn.runtime import motion
from tests.trainer.tiny import tiny_config


def _video_config(tmp_path, steps=40, frames=4, **video) -> str:
    path = tiny_config(tmp_path, steps=steps, checkpoint_every=20)
    cfg = json.load(open(path))
    cfg["model"]["temporal"] = True
    cfg["dataset"].update(batch_size=4, input_shape=[48, 48, 1])
    cfg["video"] = {"frames": frames, "freeze_still": False, **video}   # from scratch: train everything
    json.dump(cfg, open(path, "w"))
    return path


def test_video_keys_are_checked(tmp_path):
    cfg = json.load(open(_video_config(tmp_path)))
    for bad, match in ((dict(frames=1), "video.frames"), (dict(frames=40), "video.frames"),
                       (dict(cut_fraction=1.5), "video.cut_fraction"),
                       (dict(static_fraction=0.6, fast_fraction=0.6), "at most 1"),
                       (dict(pan_speed=[3.0, 1.0]), "video.pan_speed"), (dict(frame=4), "Did you mean 'frames'")):
        with pytest.raises(ConfigError, match=match):
            parse_pipeline({**cfg, "video": {**cfg["video"], **bad}})
    still = {**cfg, "model": {**cfg["model"], "temporal": False}}
    with pytest.raises(ConfigError, match="model.temporal = true"):
        parse_pipeline(still)


def test_sequences_are_seeded_and_shifts_align_pans(tmp_path, datasets):
    from bfcnn.trainer.data.dataset import load_images
    from bfcnn.trainer.data.sequences import sample_sequences
    cfg = load_pipeline(_video_config(tmp_path, frames=5, static_fraction=0.0, fast_fraction=0.0,
                                      object_fraction=0.0, cut_fraction=0.0, brightness_fraction=0.0,
                                      rotation_fraction=0.0, shift_error_fraction=0.0, pan_speed=[2.0, 2.0]))
    images = load_images(cfg, limit=20)
    a, b = sample_sequences(images, cfg, 0, 3), sample_sequences(images, cfg, 0, 3)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.shifts, b.shifts)
    assert a.clean.shape == (4, 5, 48, 48, 1) and a.shifts.shape == (4, 5, 2)
    assert not np.array_equal(sample_sequences(images, cfg, 0, 4).clean, a.clean)
    # pans of 2 px/frame: the shift is (rounded) 2 px, and it aligns the previous clean frame
    assert np.all(np.abs(a.shifts[:, 1:]).max(axis=-1) >= 1)
    for i in range(4):
        for t in range(1, 5):
            aligned = motion.align(a.clean[i, t - 1], a.shifts[i, t], fill=a.clean[i, t])
            unaligned_err = np.abs(a.clean[i, t - 1] - a.clean[i, t]).mean()
            assert np.abs(aligned - a.clean[i, t]).mean() < 0.6 * unaligned_err + 2e-3
    # fresh noise every frame
    assert not np.array_equal(a.noisy[:, 1] - a.clean[:, 1], a.noisy[:, 2] - a.clean[:, 2])


def test_static_camera_sequence_has_one_camera_and_fresh_noise(tmp_path, datasets):
    from bfcnn.trainer.data.dataset import load_images
    from bfcnn.trainer.data.sequences import sample_sequences
    path = _video_config(tmp_path, static_fraction=1.0, object_fraction=0.0, fast_fraction=0.0,
                         cut_fraction=0.0, brightness_fraction=0.0, rotation_fraction=0.0)
    raw = json.load(open(path))
    raw["dataset"]["camera_noise"] = {"fraction": 1.0, "jpeg_fraction": 0.0}
    cfg = parse_pipeline(raw, base_dir=str(tmp_path))
    seq = sample_sequences(load_images(cfg, limit=10), cfg, 0, 0)
    for i in range(4):
        # one camera: the noiseless render is the same every frame; the noise is not
        assert np.array_equal(seq.clean[i, 0], seq.clean[i, -1])
        residuals = [seq.noisy[i, t] - seq.clean[i, t] for t in range(4)]
        assert not np.array_equal(residuals[0], residuals[1])
        stds = [float(r.std()) for r in residuals]
        assert max(stds) < 1.5 * min(stds) + 1e-3      # the same noise level in every frame


def test_align_batch_matches_the_runtime():
    import tensorflow as tf
    from bfcnn.trainer.video_loop import align_batch
    rng = np.random.default_rng(0)
    prev = rng.random((5, 20, 24, 3), dtype=np.float32)
    shifts = np.array([[0, 0], [3, -2], [-5, 7], [19, 0], [-25, 30]], np.int32)
    got = align_batch(tf.constant(prev), tf.constant(shifts)).numpy()
    for b in range(5):
        want = motion.align(prev[b], shifts[b])
        dy, dx = shifts[b]       # and the definition itself, at a few pixels
        for y, x in ((0, 0), (19, 23), (7, 11)):
            inside = 0 <= y + dy < 20 and 0 <= x + dx < 24
            assert np.array_equal(want[y, x], prev[b, y + dy, x + dx] if inside else np.zeros(3, np.float32))
        assert np.array_equal(got[b], want)


def test_temporal_model_from_still_weights_starts_at_the_still_model_and_is_homogeneous():
    from bfcnn.config import ModelConfig
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.layers import TemporalBlend
    from bfcnn.trainer.models import multiscale
    from bfcnn.zoo import resolve
    card = resolve("edge_color_realtime")
    rng = np.random.default_rng(0)
    y = rng.random((1, 64, 64, 3), dtype=np.float32)
    past = np.clip(y + 0.02 * rng.standard_normal(y.shape, dtype=np.float32), 0, 1)
    outs = []
    for temporal in (False, True):
        built = multiscale.build(ModelConfig(**{**card.architecture, "temporal": temporal}))
        tflite_weights.load_into(built.core, card.file_for("none"))
        outs.append(built.full([y, past] if temporal else y).numpy())
        if temporal:
            model = built
    # no past (0, as on a first frame): exactly the still model's output
    no_past = model.full([y, np.zeros_like(y)]).numpy()
    assert np.abs(no_past - outs[0]).max() < 1e-6
    # a past near the frame is trusted from the start (G = 1 / (1 + e^3 m))
    assert np.abs(outs[1] - outs[0]).mean() > 1e-3
    blends = [layer for layer in model.core.layers if isinstance(layer, TemporalBlend)]
    assert len(blends) == card.levels
    for layer in blends:                        # any trust weights: still jointly homogeneous
        layer.set_weights([rng.normal(0, 2.0, w.shape).astype(np.float32) for w in layer.get_weights()])
    a = model.full([y, past]).numpy()
    b = model.full([3.0 * y, 3.0 * past]).numpy()
    assert np.abs(a - outs[1]).max() > 1e-3
    np.testing.assert_allclose(b, 3.0 * a, rtol=1e-4, atol=1e-5)


def test_tiny_temporal_training_learns_from_the_past_and_exports(tmp_path, datasets):
    """A tiny model on static sequences: the last frame (with 3 frames of past) ends up cleaner
    than the first (none); the float TFLite matches Keras and runs in VideoDenoiser."""
    from bfcnn.trainer.export import export
    from bfcnn.trainer.video_loop import train
    path = _video_config(tmp_path, steps=300, static_fraction=1.0, object_fraction=0.0, fast_fraction=0.0,
                         cut_fraction=0.0, brightness_fraction=0.0, rotation_fraction=0.0)
    result = train(load_pipeline(path), str(tmp_path / "m"), progress=False)
    assert result.steps == 300 and np.isfinite(result.last_loss)
    log = [json.loads(line) for line in (tmp_path / "m" / "train_log.jsonl").read_text().splitlines()]
    late = log[-5:]
    gain = np.mean([r["psnr"] - r["psnr_first"] for r in late])
    assert gain > 0.1, gain      # static scenes: by frame 4 the past is worth something (0.16 dB measured)
    card = export(load_pipeline(path), str(tmp_path / "m"), str(tmp_path / "out"), "tiny_video", ("none",))
    assert card["temporal"] is True and card["training_video"]["frames"] == 4
    assert card["export_check"]["none"]["max_abs_diff_vs_keras"] < 1e-4
    from bfcnn.runtime import VideoDenoiser
    from bfcnn.trainer.export import ExportError
    video = VideoDenoiser(str(tmp_path / "out"), num_threads=1)
    frame = np.full((40, 52), 100, np.uint8)
    assert video(frame).shape == (40, 52)
    with pytest.raises(ExportError, match="int8: not implemented for temporal"):
        export(load_pipeline(path), str(tmp_path / "m"), str(tmp_path / "out2"), "x", ("int8",))


def test_freeze_still_trains_only_the_blends(tmp_path, datasets):
    """From a shipped still model with video.freeze_still: the still weights stay as loaded, so a
    first frame (no past) gets exactly the still model's spatial estimate."""
    from bfcnn.trainer import tflite_weights
    from bfcnn.trainer.checkpoints import build_checkpoint, restore_latest
    from bfcnn.trainer.video_loop import train
    from bfcnn.zoo import resolve
    card = resolve("edge_gray_realtime")
    cfg = json.load(open(_video_config(tmp_path, steps=6, freeze_still=True)))
    cfg["train"]["initial_weights"] = card.name
    cfg["model"] = {**card.architecture, "temporal": True}
    cfg["dataset"]["input_shape"] = [64, 64, 1]
    path = tmp_path / "freeze.json"
    path.write_text(json.dumps(cfg))
    train(load_pipeline(str(path)), str(tmp_path / "f"), progress=False)
    built, _, _, ckpt, manager = build_checkpoint(load_pipeline(str(path)), str(tmp_path / "f"))
    restore_latest(ckpt, manager)
    fresh = build_checkpoint(load_pipeline(str(path)), str(tmp_path / "unused"))[0]
    tflite_weights.load_into(fresh.core, card.file_for("none"))
    changed = {layer.name for layer, other in zip(built.core.layers, fresh.core.layers)
               for a, b in zip(layer.get_weights(), other.get_weights()) if not np.array_equal(a, b)}
    assert changed and all("_temporal" in name for name in changed), changed
