"""Content margin against chance: speech close to its own sentence passes the default floor,
babble (the set's mean spectrum) scores about 0 and is refused."""

import numpy as np
import pytest

from components.tts_evaluator.blessing import DEFAULT_THRESHOLDS, decide
from models.content import content_scores, mismatched_mcd_db, mismatched_partners

FLOOR = DEFAULT_THRESHOLDS["content_margin_db"]


def _utterances(n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Log-mel-like sequences: each a different string of 'phones' (smooth spectra from one
    bank, 4-10 frames each), so utterances share sounds but not their order."""
    rng = np.random.default_rng(seed)
    bands = np.arange(80)
    bank = [
        0.5 * np.log(1e-2 + np.exp(-(((bands - centre) / width) ** 2)))
        for centre, width in zip(rng.uniform(0, 80, 12), rng.uniform(3, 15, 12), strict=True)
    ]
    utterances = []
    for _ in range(n):
        segments = [
            np.repeat(bank[rng.integers(len(bank))][None], rng.integers(4, 11), axis=0)
            for _ in range(rng.integers(10, 16))
        ]
        utterances.append(np.concatenate(segments) + rng.normal(0, 0.1, (1, 80)))
    return utterances


def test_partners_rotate_over_the_others():
    partners = mismatched_partners(5, 3)
    assert partners[0] == [1, 2, 3] and partners[4] == [0, 1, 2]
    for i, others in enumerate(partners):
        assert i not in others and len(set(others)) == 3
    # Every utterance serves as a wrong reference equally often.
    assert np.bincount(np.concatenate(partners)).tolist() == [3] * 5
    assert mismatched_partners(2, 3) == [[1], [0]]  # at most n - 1 others


def test_references_against_themselves_pass_and_are_always_closest():
    references = _utterances()
    scores = content_scores(references, references)
    assert scores["mcd_matched_db"] == 0.0
    assert scores["content_margin_db"] == pytest.approx(scores["mcd_mismatched_db"])
    assert scores["content_margin_db"] > 2 * FLOOR
    assert scores["content_accuracy"] == 1.0 and scores["content_accuracy_chance"] == 0.25
    assert mismatched_mcd_db(references, references) == pytest.approx(scores["mcd_mismatched_db"])


def test_a_noisy_voice_of_the_right_sentences_passes_the_floor():
    references = _utterances()
    rng = np.random.default_rng(1)
    # Speaks each sentence at another pace (every other frame) and with a spectral tilt.
    voice = [r[::2] + rng.normal(0, 0.3, r[::2].shape) + np.linspace(0, 1, 80) for r in references]
    scores = content_scores(references, voice)
    assert scores["content_margin_db"] > FLOOR
    assert scores["content_accuracy"] == 1.0


def test_babble_scores_near_zero_and_is_refused():
    references = _utterances()
    mean = np.concatenate(references).mean(0)
    babble = [np.repeat(mean[None], len(r), axis=0) for r in references]
    scores = content_scores(references, babble)
    assert abs(scores["content_margin_db"]) < 0.5 < FLOOR
    # Its plain MCD alone is well under the default ceiling: only the margin tells.
    assert scores["mcd_matched_db"] < DEFAULT_THRESHOLDS["mcd_db"]
    decision = decide(
        {"mcd_db": scores["mcd_matched_db"], "content_margin_db": scores["content_margin_db"]},
        {"mcd_db": DEFAULT_THRESHOLDS["mcd_db"], "content_margin_db": FLOOR},
        None,
        0.05,
    )
    assert not decision.blessed
    assert decision.reasons == [
        f"content_margin_db {scores['content_margin_db']:.4g} is below the floor 1"
    ]


def test_too_few_utterances_or_mismatched_lists_are_errors():
    one = _utterances(1)
    with pytest.raises(ValueError, match="at least 2"):
        content_scores(one, one)
    with pytest.raises(ValueError, match="2 references but 1 candidates"):
        content_scores(_utterances(2), one)


def test_summarize_reports_voice_ceiling_reference_and_chance():
    from models.evaluation import summarize

    references = _utterances(4)
    phones = ["K AE T", "D AO G", "B ER D", "F IH SH"]
    records = []
    for i, reference in enumerate(references):
        records.append(
            {
                "id": f"u{i}",
                "mcd_db": 5.0,
                "rtf": 0.1,
                "content": {
                    "reference_mel": reference,
                    "synthesized_mel": reference[::-1],  # its own sounds, in the wrong order
                    "ceiling_mel": reference + 0.05,
                },
                "reference_phones": phones[i],
                "hypothesis": phones[i] if i % 2 else "",  # every other one heard, exactly
                "ceiling_hypothesis": phones[i],
                "unknown_words": 0,
                "words": 1,
                "recognizer_s": 0.2,
            }
        )
    records.append({"id": "u4", "mcd_db": 5.0, "rtf": 0.1})  # past the content subset
    summary = summarize(records)
    assert summary["utterances"] == 5 and summary["content_utterances"] == 4
    assert summary["content_margin_db_ceiling"] > summary["content_margin_db"]
    assert summary["content_margin_db_reference"] > FLOOR
    assert summary["phone_error_rate_ceiling"] == 0.0
    assert summary["phone_error_rate"] == pytest.approx(0.5)  # half the utterances all wrong
    assert summary["phone_error_rate_chance"] == 1.0  # no phone shared with the other texts
    assert summary["intelligibility"] == pytest.approx(0.5)
    assert all(isinstance(v, int | float) for v in summary.values())
