"""Numbers in the README are measured ones: every decimal figure outside its code blocks appears
in benchmarks/RESULTS.md (where the benchmark that produced it wrote it, with its command), so a
re-run that changes a result and a README left behind disagree in CI, not in a user's hands."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _prose(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _readme() -> str:
    return _prose(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read())


def test_every_decimal_figure_in_the_readme_is_in_results():
    # not results: Python versions, and multiply-adds per pixel (from the cards: the next test)
    readme = re.sub(r"Python \d+\.\d+–\d+\.\d+|\d+\.\d+ K\b", "", _readme())
    results = open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), encoding="utf-8").read()
    figures = set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", readme))
    missing = sorted(f for f in figures if not re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", results))
    assert len(figures) >= 5, figures          # the README does state results
    assert not missing, f"README figures not in benchmarks/RESULTS.md: {missing}"


def test_the_models_table_states_each_cards_multiply_adds():
    from bfcnn.zoo import resolve
    rows = re.findall(r"^\| `(\w+)`[^|]*\| [^|]+ \| (\d+\.\d+) K \|", _readme(), re.M)
    assert len(rows) >= 5, rows
    for name, macs in rows:
        assert f"{resolve(name).macs_per_pixel / 1000:.1f}" == macs, (name, macs)
