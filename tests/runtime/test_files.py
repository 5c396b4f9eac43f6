"""Every file the runtime writes goes through temp-file-and-rename: an interrupted write leaves
the old file or none, never a half-written one, and no temp file behind."""
import os

import pytest

from bfcnn.runtime import files


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_interrupted_write_leaves_old_file_or_none(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old contents")

    def boom(*a, **k):
        raise OSError("power cut")
    if fail_at == "write":
        real_fdopen = os.fdopen

        class Half:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                raise OSError("power cut")
        monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Half(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(files.os, fail_at, boom)
    with pytest.raises(OSError, match="power cut"):
        files.atomic_write_bytes(str(target), b"new contents, much longer than the old ones")
    assert target.read_bytes() == b"old contents"
    assert sorted(os.listdir(tmp_path)) == ["model.tflite"]     # no temp file left behind
