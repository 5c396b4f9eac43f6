"""A top pyramid level whose ReLUs all died outputs 0; int8 would give it a zero range and the
TFLite interpreter aborts the process. Export removes such a level (same outputs, one level
fewer) and refuses a dead level it cannot remove instead of letting the interpreter abort."""
import numpy as np
import pytest

from bfcnn.config import parse_pipeline
from tests.trainer.tiny import random_pyramids


def _model(levels=3):
    from bfcnn.trainer.models import multiscale
    cfg = parse_pipeline({"model": {"levels": levels, "filters": 8, "no_layers": 2, "input_shape": ["?", "?", 1]}})
    return cfg, multiscale.build(cfg.model)


def _kill(built, level):
    """Make level `level`'s stream <= 0 for every image: stem weights <= 0, block convs <= 0."""
    for layer in built.core.layers:
        if layer.name.startswith(f"level{level}_") and layer.name.endswith(("_stem", "_conv")):
            w = layer.get_weights()
            layer.set_weights([-np.abs(w[0])] + w[1:])


def test_dead_top_level_is_removed_with_the_same_outputs():
    from bfcnn.trainer.dead_levels import prune_dead_levels
    cfg, built = _model()
    _kill(built, 2)
    pyrs = random_pyramids(3, n=4)
    pruned, model_cfg, record = prune_dead_levels(built, cfg.model, pyrs)
    assert model_cfg.levels == 2 and record["levels"] == [3, 2]
    assert "level2_stem" not in [l.name for l in pruned.core.layers]
    assert "level1_stem_c" not in [l.name for l in pruned.core.layers]   # its input was always 0
    for p in pyrs:
        np.testing.assert_allclose(np.asarray(pruned.core(p[:2])), np.asarray(built.core(p)), atol=1e-6)


def test_live_model_is_left_alone():
    from bfcnn.trainer.dead_levels import prune_dead_levels
    cfg, built = _model()
    pruned, model_cfg, record = prune_dead_levels(built, cfg.model, random_pyramids(3, n=4))
    assert pruned is built and model_cfg.levels == 3 and record == {}


def test_int8_export_refuses_a_dead_level_instead_of_aborting():
    """A dead *middle* level cannot be removed; int8 calibration would give it a zero range."""
    from bfcnn.trainer.export import ExportError, _refuse_dead_levels
    cfg, built = _model()
    # level 1's head reads nothing: its output conv is zero
    out = built.core.get_layer("level1_out")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    with pytest.raises(ExportError, match=r"level\(s\) \[1\] output exactly 0"):
        _refuse_dead_levels(built, 3, random_pyramids(3, n=4))
