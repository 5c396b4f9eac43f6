"""The C++ pyramid op built with AddressSanitizer + UndefinedBehaviorSanitizer, driven by
random and fuzzer-chosen inputs (tests/native/pyramid_fuzz.py): zero sanitizer reports, every
valid case equal to the numpy reference, every invalid one refused with ValueError/TypeError."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _sanitizer_env():
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
        libs.append(path)
    return {**os.environ, "LD_PRELOAD": " ".join(libs),
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1",
            "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


@pytest.fixture(scope="module")
def sanitized(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.fail("g++ is needed to build the sanitized op (apt install g++)")
    out = tmp_path_factory.mktemp("asan")
    res = subprocess.run(["sh", os.path.join(HERE, "build_sanitized.sh"), str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    return glob.glob(str(out / "_pyramid*"))[0]


def _drive(module, *args, timeout=600):
    res = subprocess.run([sys.executable, os.path.join(HERE, "pyramid_fuzz.py"), module, *args],
                         capture_output=True, text=True, env=_sanitizer_env(), timeout=timeout)
    report = res.stdout + res.stderr
    assert "AddressSanitizer" not in report and "runtime error:" not in report, report[-4000:]
    assert res.returncode == 0, report[-4000:]
    return report


def test_random_cases_under_sanitizers(sanitized):
    out = _drive(sanitized, "random", "3000", "7")
    assert "3000 cases" in out


def test_atheris_cases_under_sanitizers(sanitized):
    pytest.importorskip("atheris", reason="atheris: pip install .[test] (x86_64 wheels)")
    out = _drive(sanitized, "atheris", "4000")
    assert "Done 4000 runs" in out


def test_sanitizers_catch_an_out_of_bounds_read(sanitized, tmp_path):
    # the guard can fail: a deliberate heap overflow through numpy's buffer is reported
    script = tmp_path / "oob.py"
    script.write_text(
        "import ctypes, numpy as np, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('_pyramid', {sanitized!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "a = np.zeros(16, np.uint8)\n"
        "ctypes.memmove(ctypes.create_string_buffer(64), a.ctypes.data, 64)\n")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_sanitizer_env())
    assert res.returncode != 0 and "AddressSanitizer" in res.stderr
