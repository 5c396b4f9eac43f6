"""A shipped model carries its architecture in its card: an installed copy of bfcnn (no
repository, no configs/) fine-tunes it from a config that names only train.initial_weights."""
import json
import os
import subprocess
import sys

import pytest

from bfcnn.config import ConfigError, parse_pipeline
from tests.conftest import DATASETS, REPO


def test_config_without_model_takes_the_card_architecture():
    cfg = parse_pipeline({"train": {"initial_weights": "edge_gray_realtime"}})
    assert cfg.model.levels == 4 and cfg.model.space_to_depth == 2 and cfg.model.channels == 1


def test_card_without_architecture_says_so(tmp_path):
    import shutil
    from bfcnn.zoo import resolve
    dst = tmp_path / "m"
    shutil.copytree(resolve("edge_gray_realtime").directory, dst)
    card = json.load(open(dst / "card.json"))
    card.pop("architecture")
    json.dump(card, open(dst / "card.json", "w"))
    with pytest.raises(ConfigError, match="does not carry its architecture"):
        parse_pipeline({"train": {"initial_weights": str(dst)}})



@pytest.mark.parametrize("temporal", [False, True])
def test_a_card_exported_with_the_temporal_key_reads_as_before_or_is_refused(tmp_path, temporal):
    """Cards exported while bfcnn still trained temporal models carry architecture.temporal:
    false fine-tunes as the same still model; true (a temporal model) is refused with the reason."""
    import shutil
    from bfcnn.zoo import resolve
    dst = tmp_path / "m"
    shutil.copytree(resolve("edge_gray_realtime").directory, dst)
    card = json.load(open(dst / "card.json"))
    card["architecture"]["temporal"] = temporal
    json.dump(card, open(dst / "card.json", "w"))
    if temporal:
        with pytest.raises(ConfigError, match="temporal model, which bfcnn no longer trains"):
            parse_pipeline({"train": {"initial_weights": str(dst)}})
    else:
        assert parse_pipeline({"train": {"initial_weights": str(dst)}}).model.levels == 4

def test_installed_copy_fine_tunes_a_shipped_model_from_its_card(tmp_path):
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--target", str(site), REPO], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    config = tmp_path / "finetune.json"
    json.dump({"train": {"initial_weights": "edge_gray_realtime", "total_steps": 5, "checkpoint_every": 5,
                         "visualization_every": 0},
               "loss": {"mae_multiplier": 0.0, "log_mse_multiplier": 1.0},
               "dataset": {"directory": os.path.join(DATASETS, "Set12"), "batch_size": 2,
                           "input_shape": [64, 64, 1], "additional_noise": [25]}}, open(config, "w"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-m", "bfcnn.train", "--model-directory", str(tmp_path / "run"),
                          "--pipeline-config", str(config), "--no-progress"],
                         capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "initial weights:" in res.stderr and str(site) in res.stderr    # the installed copy's model
    resolved = json.load(open(tmp_path / "run" / "pipeline.json"))
    assert resolved["model"]["levels"] == 4 and resolved["model"]["space_to_depth"] == 2
