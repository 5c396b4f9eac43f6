"""The README's shell blocks as commands a test can run: the one place that says how a
README command is adapted to a test machine (SUBSTITUTIONS), so a README that drifts from the
code fails CI instead of a new user."""
import os
import re
import shlex
import sys
from typing import List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

# README text -> what a test runs instead, and why
SUBSTITUTIONS = [
    ("python -m ", f"{sys.executable} -m ", "the interpreter running the tests"),
    ("bfcnn-runtime ", f"{os.path.join(BIN, 'bfcnn-runtime')} ", "the console script of that environment"),
    (" configs/", f" {REPO}/configs/", "tests run in a temporary folder, not the repository root"),
    (" bfcnn/samples/", f" {REPO}/bfcnn/samples/", "the same"),
]


def section(heading: str, path: str = os.path.join(REPO, "README.md")) -> str:
    """The text under `## heading` (up to the next heading of that level or higher)."""
    text = open(path, encoding="utf-8").read()
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        raise AssertionError(f"README has no section {heading!r}")
    return m.group(1)


def bash_blocks(text: str) -> List[List[str]]:
    """Each ```bash block of `text` as its command lines (comments and blank lines dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        lines = [line.split("  #")[0].rstrip() for line in block.splitlines()]
        out.append([line for line in lines if line and not line.startswith("#")])
    return out


def runnable(command: str) -> List[str]:
    """A README command line as argv, with SUBSTITUTIONS applied (program names at the start of
    the line only)."""
    for old, new, _ in SUBSTITUTIONS:
        if old.startswith(" "):
            command = command.replace(old, new)
        elif command.startswith(old):
            command = new + command[len(old):]
    return shlex.split(command)
