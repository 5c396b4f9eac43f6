"""The pipeline config is typed and closed: typos fail before any work, naming the dotted path."""
import glob
import json
import os

import pytest

from bfcnn.config import ConfigError, load_pipeline, parse_pipeline, to_dict
from tests.conftest import REPO


def test_unknown_key_names_dotted_path_and_hint():
    with pytest.raises(ConfigError, match=r"train\.optimizer\.learnig_rate: unknown key\. Did you mean 'learning_rate'"):
        parse_pipeline({"train": {"optimizer": {"learnig_rate": 0.1}}})


def test_unknown_section_is_rejected():
    with pytest.raises(ConfigError, match=r"^datasett: unknown key\. Did you mean 'dataset'"):
        parse_pipeline({"datasett": {}})


@pytest.mark.parametrize("data, match", [
    ({"model": {"filters": "16"}}, r"model\.filters: expected int or list of int"),
    ({"model": {"batchnorm": 1}}, r"model\.batchnorm: expected true or false"),
    ({"dataset": {"batch_size": 1.5}}, r"dataset\.batch_size: expected an integer"),
    ({"model": {"type": "resnett"}}, r"model\.type: 'resnett' is not valid\. Did you mean 'resnet'"),
    ({"train": {"prune": {"strategy": "minimum"}}}, r"train\.prune\.strategy: .*Valid options"),
    ({"model": {"levels": 3, "filters": [8, 16]}}, r"model\.filters: a list needs one value per level"),
    ({"model": {"levels": 3}, "dataset": {"input_shape": [62, 62, 1]}}, r"multiples of 2\*\*\(levels-1\) = 4"),
    ({"dataset": {"color_mode": "rgb"}}, r"dataset\.color_mode: 'rgb' gives 3 channels"),
    ({"model": {"kernel_size": 4}}, r"model\.kernel_size: must be an odd number"),
    ({"model": {"levels": 1, "space_to_depth": 2}}, r"model\.space_to_depth: .*at most the pyramid stride"),
    ({"model": {"levels": 3, "space_to_depth": 3}}, r"model\.space_to_depth: must be 1 \(off\), 2 or 4"),
    ({"model": {"type": "resnet", "sparsity": 0.3}}, r"model\.sparsity: read only by model type sparse_resnet"),
])
def test_bad_values_fail_with_the_fix(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_pipeline(data)


def test_every_shipped_config_loads_and_round_trips(tmp_path):
    paths = sorted(glob.glob(os.path.join(REPO, "configs", "**", "*.json"), recursive=True))
    assert len(paths) >= 40
    for path in paths:
        cfg = load_pipeline(path)
        dumped = tmp_path / "p.json"
        dumped.write_text(json.dumps(to_dict(cfg)))
        again = load_pipeline(str(dumped))
        assert to_dict(again) == to_dict(cfg), path


def test_directory_may_be_a_list():
    cfg = parse_pipeline({"dataset": {"directory": ["a", "b"]}})
    assert cfg.dataset.directories == ["a", "b"]


def test_missing_file_names_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--pipeline-config"):
        load_pipeline(str(tmp_path / "nope.json"))


def test_cli_rejects_typo_before_tensorflow(tmp_path):
    import subprocess
    import sys
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {"filtres": 8}}))
    code = ("import sys; from bfcnn.train import main; rc = main(['--model-directory', %r, "
            "'--pipeline-config', %r]); print('TF', 'tensorflow' in sys.modules); sys.exit(rc)") % (
        str(tmp_path / "m"), str(bad))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2
    assert "model.filtres: unknown key. Did you mean 'filters'" in res.stderr
    assert "TF False" in res.stdout
    assert not (tmp_path / "m").exists()


import pytest as _pytest  # noqa: E402


@_pytest.mark.parametrize("section, key, value", [
    ("model", "shared_model", True), ("model", "local_normalization", 3),
    ("train", "random_batch_min_difference", 0.5), ("dataset", "crops_per_image", 2),
    ("dataset", "cache_decoded", False)])
def test_unimplemented_original_keys_refuse_non_default_values(section, key, value):
    from bfcnn.config import ConfigError, parse_pipeline
    with _pytest.raises(ConfigError, match=f"{section}.{key}: .* is not implemented"):
        parse_pipeline({section: {key: value}})
    parse_pipeline({section: {key: {"shared_model": False, "local_normalization": -1,
                                    "random_batch_min_difference": 0.1, "crops_per_image": 8,
                                    "cache_decoded": True}[key]}})


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return str(path)


def test_a_config_states_only_what_changes_from_its_base(tmp_path):
    """"base": sections merge key by key, other values replace, the base's relative dataset
    folder keeps pointing where it pointed, and a typo in the derived file names its dotted path."""
    _write(tmp_path / "base.json", {
        "model": {"type": "resnet", "filters": [8, 16], "no_layers": [1, 2], "levels": 2},
        "train": {"total_steps": 100, "optimizer": {"learning_rate": 1e-3, "decay_steps": 50}},
        "dataset": {"directory": "data/Train400", "camera_noise": {"fraction": 0.5, "jpeg_fraction": 0.2}}})
    derived = _write(tmp_path / "finetune" / "more.json", {
        "base": "../base.json",
        "model": {"filters": [8, 8]},
        "train": {"total_steps": 300, "optimizer": {"learning_rate": 2e-4}},
        "dataset": {"camera_noise": {"fraction": 0.8}}})
    cfg = load_pipeline(derived)
    assert cfg.model.filters == [8, 8] and cfg.model.no_layers == [1, 2] and cfg.model.levels == 2
    assert cfg.train.total_steps == 300
    assert cfg.train.optimizer.learning_rate == 2e-4 and cfg.train.optimizer.decay_steps == 50
    assert cfg.dataset.camera_noise.fraction == 0.8 and cfg.dataset.camera_noise.jpeg_fraction == 0.2
    from bfcnn.config import resolve_path
    assert resolve_path(cfg, cfg.dataset.directories[0]) == str(tmp_path / "data" / "Train400")
    _write(tmp_path / "finetune" / "typo.json", {"base": "../base.json", "train": {"total_stpes": 3}})
    with pytest.raises(ConfigError, match="train.total_stpes: unknown key. Did you mean 'total_steps'"):
        load_pipeline(str(tmp_path / "finetune" / "typo.json"))


def test_base_errors_name_the_file(tmp_path):
    _write(tmp_path / "a.json", {"base": "b.json"})
    _write(tmp_path / "b.json", {"base": "a.json"})
    with pytest.raises(ConfigError, match="leads back to itself"):
        load_pipeline(str(tmp_path / "a.json"))
    _write(tmp_path / "c.json", {"base": "missing.json"})
    with pytest.raises(ConfigError, match="missing.json' does not exist; \"base\" is a path relative"):
        load_pipeline(str(tmp_path / "c.json"))
    _write(tmp_path / "d.json", {"base": 3})
    with pytest.raises(ConfigError, match="base must be the path of another config"):
        load_pipeline(str(tmp_path / "d.json"))


def test_recipes_under_configs_state_only_what_they_change():
    """Fine-tune recipes inherit from the recipe they continue: a handful of values, not a copy
    of 40."""
    for path in glob.glob(os.path.join(REPO, "configs", "finetune", "*.json")):
        data = json.load(open(path))
        assert "base" in data, path

        def count(d):
            return sum(count(v) if isinstance(v, dict) else 1 for v in d.values())
        assert count(data) <= 25, (path, count(data))


def test_backbones_declare_keys_the_model_section_has():
    """A backbone's own keys (PARAMETERS in its file, read without importing it) are model keys,
    and the registry's files are the types the config accepts."""
    import dataclasses
    from bfcnn.config import ModelConfig
    from bfcnn.model_types import MODEL_TYPES, OWN_PARAMETERS
    from bfcnn.trainer import registry
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    assert OWN_PARAMETERS["sparse_resnet"] == ("sparsity",)
    for name, keys in OWN_PARAMETERS.items():
        assert name in MODEL_TYPES and set(keys) <= fields, (name, keys)
    assert registry.names() == MODEL_TYPES


def test_a_missing_dataset_folder_is_an_error_not_a_traceback(tmp_path, capsys):
    import json
    from bfcnn import train
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"dataset": {"directory": str(tmp_path / "nowhere")}, "train": {"total_steps": 1}}))
    assert train.main(["--model-directory", str(tmp_path / "m"), "--pipeline-config", str(cfg), "--no-progress"]) == 2
    assert "dataset.directory" in capsys.readouterr().err
