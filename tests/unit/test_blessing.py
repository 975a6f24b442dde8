"""Blessing rules: thresholds, baseline regression with tolerance, and the reasons given."""

import pytest

from components.tts_evaluator.blessing import decide, parse_thresholds


def test_candidate_within_thresholds_and_no_baseline_is_blessed():
    decision = decide({"mcd_db": 9.0, "mel_l1": 0.5}, {"mcd_db": 10.0}, None, 0.05)
    assert decision.blessed and decision.reasons == []
    assert "mcd_db 9 <= 10" in decision.message()


def test_threshold_breach_is_refused_with_the_figure():
    decision = decide({"mcd_db": 12.5}, {"mcd_db": 10.0}, None, 0.05)
    assert not decision.blessed
    assert decision.reasons == ["mcd_db 12.5 exceeds the threshold 10"]


def test_metrics_a_family_lacks_are_not_held_against_it():
    decision = decide({"mcd_db": 5.0}, {"mcd_db": 10.0, "non_stopping_share": 0.1}, None, 0.0)
    assert decision.blessed


def test_baseline_regression_beyond_tolerance_is_refused():
    baseline = {"mcd_db": 8.0, "mel_l1": 0.40}
    within = decide({"mcd_db": 8.3, "mel_l1": 0.41}, {}, baseline, 0.05)
    assert within.blessed
    worse = decide({"mcd_db": 8.5, "mel_l1": 0.41}, {}, baseline, 0.05)
    assert not worse.blessed
    assert "worse than the blessed baseline's 8" in worse.reasons[0]


def test_thresholds_json_is_checked():
    assert parse_thresholds('{"mcd_db": 12}') == {"mcd_db": 12.0}
    with pytest.raises(ValueError, match="thresholds must be"):
        parse_thresholds('{"mcd_db": "low"}')
