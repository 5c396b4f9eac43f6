"""Videos through the CLI: frame averaging before the still model by default, each frame alone
with --no-temporal; and a temporal model file (which bfcnn no longer runs) refused with the
reason and the fix."""
import json
import os
import shutil

import pytest

from bfcnn.runtime import Denoiser, cli
from bfcnn.zoo import ModelError, resolve


def test_cli_denoises_videos_with_the_frames_before(tmp_path, capsys):
    clip = os.path.join(cli.SAMPLES, "sample_clip.mp4")
    for extra, model in (([], "frame averaging + edge_color_realtime"), (["--no-temporal"], "")):
        stats = tmp_path / f"s{len(extra)}.json"
        assert cli.main(["--input", clip, "--output", str(tmp_path / f"o{len(extra)}.mp4"), "--threads", "2",
                         "--stats", str(stats)] + extra) == 0
        data = json.loads(stats.read_text())
        assert data["temporal_model"] == model and data["processed"] > 10
        assert data["temporal_restarts"] == (1 if model else 0)
    assert "with the frames before (frame averaging + edge_color_realtime)" in capsys.readouterr().err
    assert cli.main(["--input", clip, "--output", str(tmp_path / "e.mp4"), "--ensemble", "2"]) == 2
    assert "--no-temporal" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--temporal", "model"], ["--video-model", "edge_color_video"]])
def test_the_retired_video_model_flags_are_unknown(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_a_temporal_model_file_is_refused_with_the_reason(tmp_path):
    source = resolve("edge_color_realtime")
    folder = tmp_path / "old_video_model"
    shutil.copytree(source.directory, folder)
    card = json.loads((folder / "card.json").read_text())
    card["temporal"] = True
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="temporal model.*frame averaging.*use a still model"):
        Denoiser(str(folder))
