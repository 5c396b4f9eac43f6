"""Where bfcnn-runtime writes each input's output, and the rule that it never overwrites an input
(not through a symlink, not through a hard link)."""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

from bfcnn.runtime.sources import SourceError, is_video


def identity(path: str) -> Tuple:
    """What makes two names the same file: the real path, and device + inode when it exists."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


class Inputs(list):
    """The input files, with their identities computed once (for the never-overwrite check)."""

    def __init__(self, paths: List[str]) -> None:
        super().__init__(paths)
        self.ids = {identity(p) for p in paths} | {("path", os.path.realpath(p)) for p in paths}


def out_path(inp: str, output: Optional[str], single: bool, inputs: Inputs) -> str:
    """Where the output of input `inp` goes. Several inputs keep their paths relative to the
    folder they share (photos/a/x.png and photos/b/x.png stay apart). Never an input, not even
    through a symlink or a hard link."""
    if output and single and not os.path.isdir(output) and os.path.splitext(output)[1]:
        path = output
        if is_video(inp) and os.path.splitext(output)[1].lower() not in (".mp4", ".avi"):
            raise SourceError(f"--output {output!r}: a video's output must be named .mp4 or .avi")
    else:
        folder = output or "bfcnn_output"
        parents = [os.path.dirname(os.path.abspath(i)) for i in inputs]
        root = os.path.commonpath(parents) if len(inputs) > 1 else parents[0]
        path = os.path.join(folder, os.path.relpath(os.path.abspath(inp), root))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if identity(path) in inputs.ids or ("path", os.path.realpath(path)) in inputs.ids:
        raise SourceError(f"output {path} would overwrite an input; choose another --output")
    return path
