"""Training that diverges stops at once: non-finite loss -> TrainingDiverged (CLI exit 3), the last
finite checkpoint kept, nothing saved after it; NaN settings are refused; the log stays JSON
and holds each step once after a resume."""
import json
import math
import os

import numpy as np
import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline
from tests.trainer.tiny import tiny_config


def _set_lr(path, lr):
    cfg = json.load(open(path))
    cfg["train"]["optimizer"]["learning_rate"] = lr
    cfg["train"]["optimizer"]["gradient_clipping_by_norm"] = 0.0
    json.dump(cfg, open(path, "w"))


def test_divergence_stops_and_keeps_the_last_finite_checkpoint(tmp_path, capsys):
    from bfcnn import train as train_cli
    from bfcnn.trainer.checkpoints import build_checkpoint
    path = tiny_config(tmp_path, steps=20, checkpoint_every=10)
    run = str(tmp_path / "run")
    assert train_cli.main(["--model-directory", run, "--pipeline-config", path, "--no-progress"]) == 0
    _set_lr(path, 1e30)                                       # blows up at once
    cfg = json.load(open(path))
    cfg["train"]["total_steps"] = 60
    json.dump(cfg, open(path, "w"))
    assert train_cli.main(["--model-directory", run, "--pipeline-config", path, "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "diverged" in err and "learning rate" in err
    ckpts = sorted(int(n.split("-")[1].split(".")[0]) for n in os.listdir(os.path.join(run, "checkpoints"))
                   if n.startswith("ckpt-") and n.endswith(".index"))
    assert ckpts[-1] == 20                                    # nothing saved after the last finite one
    built, _, step, ckpt, manager = build_checkpoint(load_pipeline(path), run)
    ckpt.restore(manager.latest_checkpoint).expect_partial()
    assert all(np.isfinite(w.numpy()).all() for w in built.full.weights)
    for line in open(os.path.join(run, "train_log.jsonl")):
        json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in the log"))


@pytest.mark.parametrize("key", ["learning_rate", "decay_rate", "gradient_clipping_by_norm"])
def test_nan_and_inf_settings_are_refused(key):
    for bad in (math.nan, math.inf):
        with pytest.raises(ConfigError, match=f"train.optimizer.{key}: expected a finite number"):
            parse_pipeline({"train": {"optimizer": {key: bad}}})


def test_log_holds_each_step_once_after_a_resume(tmp_path):
    from bfcnn.trainer.train_loop import train
    path = tiny_config(tmp_path, steps=60, checkpoint_every=40)
    run = str(tmp_path / "run")
    train(load_pipeline(path), run, progress=False, max_steps=50)   # log to 40, checkpoint at 40 and 50
    os.remove(os.path.join(run, "checkpoints", "ckpt-50.index"))   # as if killed between 40 and 50
    with open(os.path.join(run, "checkpoints", "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "ckpt-40"\nall_model_checkpoint_paths: "ckpt-40"\n')
    train(load_pipeline(path), run, progress=False, max_steps=10)   # steps 41-50 again: 50 logged again
    train(load_pipeline(path), run, progress=False)
    steps = [json.loads(line)["step"] for line in open(os.path.join(run, "train_log.jsonl"))]
    assert steps == [20, 40, 50, 60]
