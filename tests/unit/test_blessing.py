"""Blessing rules: thresholds (ceilings and floors, merged with the defaults), baseline
regression with tolerance, and the reasons given."""

import json

import pytest

from components.tts_evaluator.blessing import (
    ALL_OFF,
    DEFAULT_THRESHOLDS,
    METRICS,
    decide,
    merge_thresholds,
    parse_thresholds,
)


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


def test_floors_refuse_a_voice_that_does_not_speak():
    thresholds = {"content_margin_db": 1.0, "intelligibility": 0.2, "mcd_db": 8.0}
    # Babble: spectrally close enough for the MCD ceiling, no closer to its text than chance.
    babble = {"mcd_db": 5.1, "content_margin_db": 0.05, "intelligibility": 0.01}
    decision = decide(babble, thresholds, None, 0.05)
    assert not decision.blessed
    assert decision.reasons == [
        "content_margin_db 0.05 is below the floor 1",
        "intelligibility 0.01 is below the floor 0.2",
    ]
    speaks = {"mcd_db": 4.0, "content_margin_db": 3.5, "intelligibility": 0.6}
    blessed = decide(speaks, thresholds, None, 0.05)
    assert blessed.blessed and "content_margin_db 3.5 >= 1" in blessed.checks


def test_default_floors_sit_between_chance_and_speech():
    for metric in ("content_margin_db", "intelligibility"):
        assert METRICS[metric] == "min"
        assert 0.0 < DEFAULT_THRESHOLDS[metric]  # chance scores about 0 on both
    assert parse_thresholds(None) == DEFAULT_THRESHOLDS


def test_an_absent_metric_is_said_not_measured():
    decision = decide({"mcd_db": 5.0}, {"mcd_db": 8.0, "intelligibility": 0.2}, None, 0.0)
    assert decision.blessed and "intelligibility not measured" in decision.checks


def test_nan_fails_a_floor_and_a_ceiling():
    nan = float("nan")
    decision = decide({"mcd_db": nan, "content_margin_db": nan}, DEFAULT_THRESHOLDS, None, 0.0)
    assert len(decision.reasons) == 2


def test_given_thresholds_merge_with_the_defaults():
    merged = parse_thresholds('{"mcd_db": 12}')
    assert merged == {**DEFAULT_THRESHOLDS, "mcd_db": 12.0}
    assert parse_thresholds("{}") == DEFAULT_THRESHOLDS
    assert parse_thresholds('{"content_accuracy": 0.5}')["content_accuracy"] == 0.5


def test_null_switches_a_threshold_off_and_all_off_leaves_none():
    assert "intelligibility" not in parse_thresholds('{"intelligibility": null}')
    assert parse_thresholds(json.dumps(dict(ALL_OFF))) == {}
    only = parse_thresholds(json.dumps({**ALL_OFF, "length_error": 0.7}))
    assert only == {"length_error": 0.7}


def test_merging_twice_changes_nothing():
    # The component stores the merged table; the executor parses it again.
    once = merge_thresholds({"mcd_db": 9, "intelligibility": None})
    assert merge_thresholds(once) == once
    assert parse_thresholds(json.dumps(once)) == {k: v for k, v in once.items() if v is not None}


def test_unknown_metric_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown threshold metric 'mcd'") as error:
        parse_thresholds('{"mcd": 8}')
    for metric in METRICS:
        assert metric in str(error.value)
    assert "content_margin_db (min)" in str(error.value)
    with pytest.raises(ValueError, match="unknown threshold metric"):
        decide({"mcd_db": 1.0}, {"mcd": 8.0}, None, 0.0)


def test_invalid_json_and_shapes_say_what_is_wrong():
    with pytest.raises(ValueError, match="not valid JSON .*double quotes"):
        parse_thresholds("{mcd_db: 8}")
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_thresholds("[8]")
    with pytest.raises(ValueError, match="mcd_db must be a number or null"):
        parse_thresholds('{"mcd_db": "low"}')
    with pytest.raises(ValueError, match="must be a number or null"):
        parse_thresholds('{"mcd_db": true}')
    with pytest.raises(ValueError, match="finite"):
        parse_thresholds('{"mcd_db": NaN}')
