"""A background run's log (stderr not a terminal) gets a progress line about once a minute,
not one per logged step."""
import io
import sys

from bfcnn.config import load_pipeline
from tests.trainer.tiny import tiny_config


def test_progress_bar_redraws_rarely_when_stderr_is_a_file(tmp_path, monkeypatch):
    from bfcnn.trainer.train_loop import train
    log = io.StringIO()                      # isatty() is False, like a redirected log file
    monkeypatch.setattr(sys, "stderr", log)
    cfg = load_pipeline(tiny_config(tmp_path, steps=100, checkpoint_every=100))
    result = train(cfg, str(tmp_path / "run"), progress=True)
    assert result.steps == 100
    text = log.getvalue()
    redraws = text.count("\r")
    # 100 steps post a loss every 20 steps: 5 postfix updates. A short run must draw the
    # bar at its start and end only (tqdm: the first draw, the close), not once per update
    assert "100/100" in text, text[-300:]
    assert redraws <= 3, f"{redraws} redraws in a {len(text)}-character log"
