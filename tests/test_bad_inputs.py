"""Every case of the bad-input survey (benchmarks/bad_input_survey.py) gets a clear error (or
documented handling), leaves the Denoiser usable and writes nothing."""
import pytest

from benchmarks.bad_input_survey import survey


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return survey(str(tmp_path_factory.mktemp("survey")))


def test_survey_covers_every_entry_point(outcomes):
    entries = {o.case.entry for o in outcomes}
    assert entries >= {"Denoiser()", "Denoiser(...)", "load_model()", "pyramid_down()", "bfcnn-runtime",
                       "load_pipeline()", "parse_pipeline()"}


def test_every_bad_input_gets_a_clear_answer(outcomes):
    bad = [(o.case.entry, o.case.bad, o.result) for o in outcomes if not o.clear]
    assert not bad, bad


def test_denoiser_survives_every_bad_frame(outcomes):
    assert all(o.usable for o in outcomes if o.usable is not None)


def test_cli_errors_write_nothing(outcomes):
    assert all(o.wrote_nothing for o in outcomes if o.wrote_nothing is not None)


def test_a_right_exception_with_an_empty_message_is_not_clear():
    """The survey reads the message: the right exception type saying nothing of the bad value
    or the fix is a finding, not a clear error."""
    from benchmarks.bad_input_survey import Case, _says
    case = Case("Denoiser(...)", "tile=-5", lambda: None, says=r"tile must be a positive integer or None, got -5")
    assert _says(case, "tile must be a positive integer or None, got -5")
    assert not _says(case, "invalid value")
    assert not _says(Case("x", "no pattern", lambda: None), "anything at all")
