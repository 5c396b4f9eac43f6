"""Every shipped model names the recipe that made it, and that recipe still describes it: the
same architecture, the same number of steps, and its start weights pinned to the file the card
says it was fine-tuned from (a name alone resolves to whatever ships now)."""
import os

import pytest

from bfcnn.config import load_pipeline
from bfcnn.zoo import list_models, resolve

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", list_models())
def test_each_shipped_card_names_a_recipe_that_describes_it(name):
    card = resolve(name)
    assert card.recipe, f"{name}: card.json names no recipe"
    path = os.path.join(REPO, card.recipe)
    assert os.path.isfile(path), f"{name}: recipe {card.recipe} does not exist"
    cfg = load_pipeline(path)
    assert cfg.train.total_steps == card.training_steps
    assert (cfg.model.levels, cfg.model.filters, cfg.model.no_layers) == (
        card.architecture["levels"], card.architecture["filters"], card.architecture["no_layers"])
    assert cfg.model.noise_input == card.noise_input and not card.temporal
    start = card.fine_tuned_from
    assert cfg.train.initial_weights == start.get("initial_weights", "")
    assert cfg.train.initial_weights_sha256 == start.get("sha256", "")


def test_export_records_the_recipe_relative_to_the_working_folder(tmp_path, monkeypatch):
    from bfcnn.export import _recipe_name
    monkeypatch.chdir(REPO)
    assert _recipe_name(os.path.join(REPO, "configs", "quickstart.json")) == "configs/quickstart.json"
    assert _recipe_name(str(tmp_path / "mine.json")) == "mine.json"   # outside: no absolute path
