"""A training run's bookkeeping for the training loop (train_loop.py): the run's
files (pipeline.json, command.txt), the result, a clean Ctrl-C, the progress bar, the logged
steps (TensorBoard and train_log.jsonl), the error for a diverged run, and closing a run."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from bfcnn.config import PipelineConfig, to_dict
from bfcnn.trainer.checkpoints import ckpt_step


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last finite checkpoint is kept, nothing after it saved."""


@dataclass
class TrainResult:
    steps: int
    seconds: float
    last_loss: float
    last_psnr: float
    interrupted: bool


def write_run_files(model_dir: str, cfg: PipelineConfig) -> None:
    os.makedirs(model_dir, exist_ok=True)
    tmp = os.path.join(model_dir, "pipeline.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(to_dict(cfg), f, indent=2)
    os.replace(tmp, os.path.join(model_dir, "pipeline.json"))
    with open(os.path.join(model_dir, "command.txt"), "a", encoding="utf-8") as f:
        f.write(" ".join(getattr(sys, "orig_argv", [sys.executable] + sys.argv)) + f"  # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


class StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint and returns cleanly."""

    def __init__(self):
        self.stop = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        if self.stop:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def progress_bar(start: int, end: int):
    """The training progress bar (tqdm). Redirected to a file (a background run's log), it
    redraws once a minute, not 10 times a second: a 6,000-step run's log was otherwise megabytes
    of bar redraws. maxinterval too: below mininterval, tqdm redraws every maxinterval once the
    first minute has passed."""
    from tqdm import tqdm
    return tqdm(total=end, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr,
                mininterval=0.1 if sys.stderr.isatty() else 60.0,
                maxinterval=10.0 if sys.stderr.isatty() else 60.0)


def close_run(prefetch, bar, manager, step_var, diverged: bool, writer, saved: int) -> None:
    """End of a run, however it ended: stop the prefetch thread, close the bar, save the last
    step unless it is saved already (`saved`: the last saved or restored step, -1 for none) or
    the weights diverged (the last finite checkpoint stays the newest), flush the logs. The
    decision uses only the step, so every worker of a multi-worker run makes the same one
    (saving is collective there)."""
    prefetch.close()
    if bar is not None:
        bar.close()
    if not diverged and int(step_var.numpy()) != saved:
        manager.save(checkpoint_number=int(step_var.numpy()))
    writer.flush()


# TensorBoard's names for train_log.jsonl's keys (the same scalars)
_TENSORBOARD_NAMES = {"psnr": "psnr_denoised", "patches_per_s": "patches_per_second"}


def log_step(writer, log_path: str, step: int, values: dict, **tensorboard_only: float) -> None:
    """One logged step: `values` (train_log.jsonl's keys -> numbers) as TensorBoard scalars and
    as a line of train_log.jsonl (non-finite numbers as null), `tensorboard_only` in TensorBoard."""
    with writer.as_default(step=step):
        for name, value in {**values, **tensorboard_only}.items():
            tf.summary.scalar(_TENSORBOARD_NAMES.get(name, name), value)
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, **{k: _finite(v) for k, v in values.items()},
                            "time": time.time()}) + "\n")


def diverged_at(loss: float, step: int, manager, t) -> TrainingDiverged:
    """The error for a non-finite loss at `step`, naming the last saved checkpoint and the fix."""
    return TrainingDiverged(
        f"the loss became {loss} at step {step}; the weights are no longer finite, so nothing after "
        f"the last checkpoint ({ckpt_step(manager) if manager.latest_checkpoint else 'none'}) was saved. "
        f"Likely cause: the learning rate ({t.optimizer.learning_rate:g}) is too high or gradient "
        f"clipping is off (train.optimizer.gradient_clipping_by_norm = "
        f"{t.optimizer.gradient_clipping_by_norm:g}); lower it and re-run to resume")


def _finite(value: float):
    """A number for the JSON log, or null when it is NaN / infinite (bare NaN is not JSON)."""
    return value if np.isfinite(value) else None


def truncate_log(path: str, start: int) -> None:
    """On resume, drop log lines past the checkpoint the run restarts from: those steps are
    trained again, and the log would otherwise hold them twice."""
    if not os.path.exists(path):
        return
    with open(path, "r", encoding="utf-8") as f:
        lines = f.readlines()
    keep = []
    for line in lines:
        try:
            if json.loads(line)["step"] <= start:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue   # a line cut short by a crash
    if len(keep) != len(lines):
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(keep)
        os.replace(tmp, path)
