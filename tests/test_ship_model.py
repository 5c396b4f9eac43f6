"""tools/ship_model.py --add: a file of the same weights joins a shipped model and nothing else
about that model changes (its lineage above all); other weights are refused."""
import importlib.util
import json
import os
import shutil

import pytest

from bfcnn.zoo import PRETRAINED_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture()
def tool(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("ship_model", os.path.join(ROOT, "tools", "ship_model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "PRETRAINED", str(tmp_path / "pretrained"))
    exported = tmp_path / "exported"
    shutil.copytree(os.path.join(PRETRAINED_DIR, "edge_gray_realtime"), exported)
    shipped = tmp_path / "pretrained" / "edge_gray_realtime"
    shutil.copytree(exported, shipped)
    card = json.loads((shipped / "card.json").read_text())
    del card["quantization"]["dynamic"], card["export_check"]["dynamic"]
    os.remove(shipped / "model_dynamic.tflite")
    (shipped / "card.json").write_text(json.dumps(card))
    return module, exported, shipped


def test_add_keeps_the_card_and_adds_the_file(tool, monkeypatch, capsys):
    module, exported, shipped = tool
    before = json.loads((shipped / "card.json").read_text())
    monkeypatch.setattr("sys.argv", ["ship_model.py", str(exported), "edge_gray_realtime", "--add", "dynamic"])
    assert module.main() == 0
    after = json.loads((shipped / "card.json").read_text())
    source = json.loads((exported / "card.json").read_text())
    assert after["quantization"]["dynamic"] == source["quantization"]["dynamic"]
    assert after["export_check"]["dynamic"] == source["export_check"]["dynamic"]
    del after["quantization"]["dynamic"], after["export_check"]["dynamic"]
    assert after == before                              # lineage and everything else untouched
    assert (shipped / "model_dynamic.tflite").read_bytes() == (exported / "model_dynamic.tflite").read_bytes()


def test_add_refuses_other_weights(tool, monkeypatch, capsys):
    """Other float bytes are other weights, whatever the cards say."""
    module, exported, shipped = tool
    (exported / "model.tflite").write_bytes((exported / "model.tflite").read_bytes()[:-1] + b"\0")
    monkeypatch.setattr("sys.argv", ["ship_model.py", str(exported), "edge_gray_realtime", "--add", "dynamic"])
    assert module.main() == 2
    assert "same weights" in capsys.readouterr().err
    assert not (shipped / "model_dynamic.tflite").exists()


def test_add_refuses_a_card_without_a_float_file_and_files_already_shipped(tool, monkeypatch, capsys):
    module, exported, shipped = tool
    monkeypatch.setattr("sys.argv", ["ship_model.py", str(exported), "edge_gray_realtime", "--add", "int8"])
    assert module.main() == 2                        # the shipped model has an int8 file already
    assert "already ships" in capsys.readouterr().err
    for card_dir in (exported, shipped):
        card = json.loads((card_dir / "card.json").read_text())
        del card["quantization"]["none"]
        (card_dir / "card.json").write_text(json.dumps(card))
    monkeypatch.setattr("sys.argv", ["ship_model.py", str(exported), "edge_gray_realtime", "--add", "dynamic"])
    assert module.main() == 2                        # no float file on either side: not "the same"
    assert "byte-identical" in capsys.readouterr().err
    assert not (shipped / "model_dynamic.tflite").exists()


@pytest.mark.parametrize("name", [".", "..", "../outside", "a/b", "", "has space"])
def test_a_name_is_a_plain_folder_name(tool, monkeypatch, capsys, name):
    """An export to --output-directory . gets the card name '.'; shipping it as NAME '.' used to
    delete every shipped model. Names that are not plain folder names are refused before
    anything is touched."""
    module, exported, shipped = tool
    card = json.loads((exported / "card.json").read_text())
    card["name"] = name
    (exported / "card.json").write_text(json.dumps(card))
    before = sorted(os.listdir(shipped.parent))
    monkeypatch.setattr("sys.argv", ["ship_model.py", str(exported), name])
    assert module.main() == 2
    assert "plain folder name" in capsys.readouterr().err
    assert sorted(os.listdir(shipped.parent)) == before and (shipped / "card.json").exists()
