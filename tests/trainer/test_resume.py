"""Crash safety of training: SIGKILL loses at most checkpoint_every steps and the re-run
finishes the same total; SIGINT saves a checkpoint at the current step and exits cleanly."""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

from tests.conftest import REPO
from tests.trainer.tiny import tiny_config


def _start(cfg, model_dir):
    return subprocess.Popen([sys.executable, "-m", "bfcnn.train", "--model-directory", model_dir,
                             "--pipeline-config", cfg, "--no-progress"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _checkpoint_steps(model_dir):
    return sorted(int(re.search(r"ckpt-(\d+)\.index$", p).group(1))
                  for p in glob.glob(os.path.join(model_dir, "checkpoints", "ckpt-*.index")))


def _logged_step(model_dir):
    path = os.path.join(model_dir, "train_log.jsonl")
    if not os.path.exists(path):
        return 0
    lines = open(path).read().splitlines()
    return json.loads(lines[-1])["step"] if lines else 0


def _wait_for(predicate, timeout=240):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sigkill_then_resume_finishes_same_steps(tmp_path):
    cfg = tiny_config(tmp_path, steps=400, checkpoint_every=50)
    model_dir = str(tmp_path / "model")
    proc = _start(cfg, model_dir)
    try:
        assert _wait_for(lambda: _logged_step(model_dir) >= 160), proc.stderr.read() if proc.poll() else "timeout"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    reached = _logged_step(model_dir)
    killed_at = time.time()
    saved = _checkpoint_steps(model_dir)
    assert saved and reached - saved[-1] <= 50 + 20  # at most checkpoint_every (+ log granularity)
    proc = _start(cfg, model_dir)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert "done: step 400" in out
    assert _checkpoint_steps(model_dir)[-1] == 400
    log = [json.loads(l) for l in open(os.path.join(model_dir, "train_log.jsonl"))]
    second_run = [r["step"] for r in log if r["time"] > killed_at]
    assert second_run[0] > saved[-1]  # it resumed from the checkpoint, not from step 0
    assert second_run[0] <= saved[-1] + 20
    assert open(os.path.join(model_dir, "command.txt")).read().count("-m bfcnn.train") == 2


def test_sigint_saves_current_step_and_exits_cleanly(tmp_path):
    cfg = tiny_config(tmp_path, steps=100000, checkpoint_every=100000)
    model_dir = str(tmp_path / "model")
    proc = _start(cfg, model_dir)
    assert _wait_for(lambda: _logged_step(model_dir) >= 40)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    step = int(re.search(r"interrupted; re-run the same command to resume: step (\d+)", out).group(1))
    assert step >= 40
    assert _checkpoint_steps(model_dir) == [step]  # saved exactly where it stopped
