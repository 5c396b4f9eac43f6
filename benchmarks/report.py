"""Shared by the benchmark scripts: machine/version header and appending to RESULTS.md."""
from __future__ import annotations

import os
import platform
import sys
import time
from typing import List, Sequence

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def versions() -> str:
    import cv2
    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"opencv {cv2.__version__}"]
    try:
        import ai_edge_litert
        parts.append(f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}")
    except ImportError:
        pass
    try:
        import onnxruntime
        parts.append(f"onnxruntime {onnxruntime.__version__}")
    except ImportError:
        pass
    try:
        from bfcnn.runtime import pyramid
        parts.append(f"pyramid backend {pyramid.BACKEND}")
    except ImportError:
        pass
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def table(headers: Sequence[str], rows: List[Sequence]) -> str:
    def fmt(v):
        # 4 significant digits: PSNR to 0.01 dB (3 hid the 0.05 dB int8 differences)
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def publish(title: str, body: str, notes: str = "") -> None:
    """Print the section and write it into RESULTS.md with command, date, machine and versions,
    replacing the section of the same title (RESULTS.md holds the current result of each
    benchmark; history goes to benchmarks/history/)."""
    text = (f"## {title}\n\n"
            f"- command: `python {' '.join(sys.argv)}`\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
            f"- machine: {machine()}\n- versions: {versions()}\n\n{body}\n")
    if notes:
        text += f"\n{notes}\n"
    text = portable(text)
    print(text)
    replace_section(RESULTS, title, text)
    print(f"(this replaced the section \"{title}\" of benchmarks/RESULTS.md; --no-write prints only)",
          file=sys.stderr)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def portable(text: str) -> str:
    """`text` without this machine's paths: the repository's own as relative paths, its parent
    folder's (run folders, datasets beside the checkout) as ../, temporary folders as <tmp>."""
    import re
    import tempfile
    text = text.replace(REPO + os.sep, "").replace(REPO, ".")
    text = text.replace(os.path.dirname(REPO) + os.sep, ".." + os.sep)
    return re.sub(re.escape(tempfile.gettempdir()) + r"/[^\s/'`|)]+", "<tmp>", text)


def replace_section(path: str, title: str, text: str) -> None:
    """Put `text` (a '## title' section) in place of the section of that title in `path`, or at
    the end when there is none; written atomically."""
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    head = f"## {title}\n"
    start = next((i for i, line in enumerate(lines) if line == head), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)


def best_of(fn, repeats: int = 20, warmup: int = 3) -> float:
    """Median seconds of fn() (the median resists the noise of a shared machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))
