"""train.distribute = "multi_worker_mirrored" with two worker processes on 127.0.0.1, as a user
would run it on two hosts: one --model-directory, only the chief writes it (the other worker's
temporary folder is gone at the end), and a run whose worker was killed resumes from the
chief's last checkpoint when both are started again."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import REPO
from tests.trainer.tiny import tiny_config


def _ports(n=2):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config(tmp_path, steps):
    path = tiny_config(tmp_path, steps=steps, checkpoint_every=5)
    cfg = json.load(open(path))
    cfg["train"]["distribute"] = "multi_worker_mirrored"
    cfg["train"]["visualization_every"] = 0
    json.dump(cfg, open(path, "w"))
    return path


def _start(config, model_dir):
    """Two workers; their temporary folders (the non-chief's write_dir) go under the run's
    parent's tmp/, not the system's."""
    ports = _ports()
    tmp = os.path.join(os.path.dirname(str(model_dir)), "tmp")
    os.makedirs(tmp, exist_ok=True)
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "TMPDIR": tmp}
        procs.append(subprocess.Popen([sys.executable, "-m", "bfcnn.train", "--model-directory", str(model_dir),
                                       "--pipeline-config", config, "--no-progress"], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _worker_dirs(tmp_path):
    return {n for n in os.listdir(tmp_path / "tmp") if n.startswith("bfcnn-worker")}


def test_two_workers_train_one_run_and_only_the_chief_writes(tmp_path, datasets):
    procs = _start(_config(tmp_path, steps=20), tmp_path / "run")
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    run = tmp_path / "run"
    assert len((run / "command.txt").read_text().splitlines()) == 1        # the chief's line only
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [20]                                 # one writer, no duplicates
    assert sorted(n for n in os.listdir(run / "checkpoints") if n.endswith(".index")) == \
        ["ckpt-10.index", "ckpt-15.index", "ckpt-20.index"]
    assert _worker_dirs(tmp_path) == set()                                  # the worker cleaned up


def test_a_killed_worker_leaves_a_checkpoint_the_run_resumes_from(tmp_path, datasets):
    config, run = _config(tmp_path, steps=60), tmp_path / "run"
    procs = _start(config, run)
    deadline = time.time() + 300
    while time.time() < deadline and not (run / "checkpoints" / "ckpt-10.index").exists():
        time.sleep(0.2)
    assert (run / "checkpoints" / "ckpt-10.index").exists(), "no checkpoint appeared"
    procs[1].send_signal(signal.SIGKILL)             # a worker dies; the chief cannot go on alone
    procs[0].send_signal(signal.SIGKILL)
    for p in procs:
        p.communicate(timeout=60)
    last = max(int(n.split("-")[1].split(".")[0]) for n in os.listdir(run / "checkpoints") if n.endswith(".index"))
    assert 10 <= last < 60
    procs = _start(config, run)                      # both started again, same command
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    steps = [json.loads(line)["step"] for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert steps[-1] == 60 and len(steps) == len(set(steps))             # resumed, nothing logged twice
    assert len((run / "command.txt").read_text().splitlines()) == 2
