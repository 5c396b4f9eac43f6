"""`python -m bfcnn.train --model-directory D --pipeline-config P` (the original bfcnn flags).

Re-running on the same model directory resumes from its last checkpoint.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bfcnn.train", description=__doc__)
    parser.add_argument("--model-directory", required=True, help="where checkpoints and logs go")
    parser.add_argument("--pipeline-config", required=True, help="pipeline JSON (see configs/)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop this run after N more steps (the config's total still counts)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from bfcnn.config import ConfigError, load_pipeline
    try:
        cfg = load_pipeline(args.pipeline_config)  # fails on typos before TensorFlow loads
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from bfcnn.trainer.tflite_weights import WeightImportError
        from bfcnn.trainer.checkpoints import CheckpointMismatch
        from bfcnn.trainer.run_log import TrainingDiverged  # TensorFlow import happens here
        from bfcnn.trainer.train_loop import train
    except ImportError as exc:   # a runtime-only install: bfcnn.trainer says what to install
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = train(cfg, args.model_directory, progress=not args.no_progress, max_steps=args.max_steps)
    except (CheckpointMismatch, WeightImportError, FileNotFoundError) as exc:   # FileNotFoundError: dataset.directory
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"error: training diverged: {exc}", file=sys.stderr)
        return 3
    state = "interrupted; re-run the same command to resume" if result.interrupted else "done"
    print(f"{state}: step {result.steps}, {result.seconds:.0f} s, last loss {result.last_loss:.4f}, "
          f"batch PSNR {result.last_psnr:.2f} dB, checkpoints in {args.model_directory}/checkpoints")
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
