"""README "Train your own", run as written (tests/readme.py adapts paths): the quick-start
trains, exports float + dynamic and denoises in the runtime in minutes; the fine-tune recipe
keeps the shipped model's architecture (levels, halo)."""
import json
import os
import subprocess
import time

import cv2
import numpy as np

from bfcnn.zoo import resolve
from tests.conftest import DATASETS, psnr
from tests.readme import REPO, bash_blocks, runnable, section


def _run(argv, cwd):
    res = subprocess.run(argv, cwd=str(cwd), capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, (argv, res.stderr[-3000:])
    return res


def test_the_quick_start_trains_exports_and_denoises(tmp_path):
    quick, _ = bash_blocks(section("Train your own"))
    assert len(quick) == 3
    began = time.time()
    for line in quick:
        _run(runnable(line), tmp_path)
    minutes = (time.time() - began) / 60
    card = json.loads((tmp_path / "runs/quick/exported/card.json").read_text())
    assert set(card["quantization"]) == {"none", "dynamic"} and card["bias_free"]
    clean = cv2.imread(os.path.join(REPO, "bfcnn/samples/sample_image_clean.png"))
    noisy = cv2.imread(os.path.join(REPO, "bfcnn/samples/sample_image.png"))
    out = cv2.imread(str(tmp_path / "quick.png"))
    assert psnr(out, clean) > psnr(noisy, clean) + 3.0, (psnr(out, clean), psnr(noisy, clean))
    print(f"quick start: {minutes:.1f} minutes")
    assert minutes < 15     # the README says about 3 on 2 idle cores; CI's cores are shared


def test_the_fine_tune_recipe_keeps_the_shipped_architecture(tmp_path):
    _, finetune = bash_blocks(section("Train your own"))
    assert finetune[0].startswith("cp configs/your_photos.json mine.json")
    _run(runnable(finetune[0]), tmp_path)
    photos = tmp_path / "my_photos"                 # "your photos": eight Kodak24 images
    photos.mkdir()
    for name in sorted(os.listdir(os.path.join(DATASETS, "Kodak24")))[:8]:
        os.symlink(os.path.join(DATASETS, "Kodak24", name), photos / name)
    cfg = json.loads((tmp_path / "mine.json").read_text())
    assert cfg["dataset"]["directory"] == "my_photos"
    cfg["train"]["total_steps"] = 40                # CI: 40 of the recipe's steps
    (tmp_path / "mine.json").write_text(json.dumps(cfg))
    for line in finetune[1:]:
        _run(runnable(line), tmp_path)
    card = json.loads((tmp_path / "runs/mine/exported/card.json").read_text())
    shipped = resolve("edge_color_realtime")
    assert (card["levels"], card["halo"], card["architecture"]["filters"]) == \
        (shipped.levels, shipped.halo, shipped.architecture["filters"])
    assert card["fine_tuned_from"]["name"] == "edge_color_realtime"
    assert card["recipe"] == "mine.json"      # the card names the config that made it
    from bfcnn.runtime import Denoiser
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert Denoiser(str(tmp_path / "runs/mine/exported"), quantization="dynamic")(frame).shape == frame.shape
