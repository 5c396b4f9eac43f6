"""Faults: a dataset folder full of bad files trains with one warning each."""
import os
import shutil
import warnings

import cv2
import numpy as np

from bfcnn.config import load_pipeline
from tests.conftest import DATASETS
from tests.trainer.tiny import tiny_config


def _bad_folder(root):
    src = os.path.join(DATASETS, "Train400")
    good = sorted(os.listdir(src))[:6]
    folder = root / "mixed"
    folder.mkdir()
    for name in good:
        shutil.copy(os.path.join(src, name), folder / name)
    (folder / "zero.png").write_bytes(b"")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    (folder / "truncated.jpg").write_bytes(cv2.imencode(".jpg", np.full((64, 64), 99, np.uint8))[1].tobytes()[:200])
    cv2.imwrite(str(folder / "deep16.png"), (np.random.default_rng(0).random((80, 80)) * 65535).astype(np.uint16))
    from PIL import Image
    Image.new("CMYK", (90, 70), (10, 200, 30, 5)).save(folder / "cmyk.jpg")
    cv2.imwrite(str(folder / "tiny.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(folder / "huge.png"), np.tile(np.arange(256, dtype=np.uint8), (4000, 20)))   # 5120x4000
    return folder


def test_bad_dataset_files_are_skipped_with_warnings_and_training_runs(tmp_path):
    folder = _bad_folder(tmp_path)
    cfg_path = tiny_config(tmp_path, steps=20, checkpoint_every=20, directory=str(folder))
    from bfcnn.trainer.data.dataset import load_images
    from bfcnn.trainer.train_loop import train
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_images(load_pipeline(cfg_path))
    skipped = sorted(os.path.basename(str(w.message).split(":")[0].split()[-1]) for w in caught
                     if "skipping" in str(w.message))
    assert skipped == ["corrupt.png", "tiny.png", "truncated.jpg", "zero.png"]
    assert len(images) == 6 + 3                                # good + 16-bit + CMYK + huge
    assert all(img.dtype == np.uint8 and img.shape[2] == 1 for img in images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(load_pipeline(cfg_path), str(tmp_path / "run"), progress=False)
    assert result.steps == 20
