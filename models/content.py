"""Does a voice carry the content of its text? MCD against the utterance's own reference,
compared with MCD against other utterances' references (chance), in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.metrics import mel_cepstral_distortion

# Mismatched references per utterance. DTW costs O(N * M) per pair, so the work is
# (1 + MISMATCHED_PARTNERS) alignments per utterance; 3 keeps the chance estimate steady over a
# ~20-utterance eval split at 4x the cost of the matched MCD alone.
MISMATCHED_PARTNERS = 3
# The figures content_scores gives for any set of candidates (the chance accuracy aside).
FIGURES = ("mcd_matched_db", "mcd_mismatched_db", "content_margin_db", "content_accuracy")


def mismatched_partners(n: int, k: int = MISMATCHED_PARTNERS) -> list[list[int]]:
    """For each of n utterances, the k (at most n - 1) others it is compared with by mistake.

    A rotation (i + 1, ..., i + k mod n): deterministic, every utterance is used k times as a
    wrong reference, and no pair is drawn twice for the same utterance.
    """
    k = min(k, n - 1)
    return [[(i + step) % n for step in range(1, k + 1)] for i in range(n)]


def content_scores(
    references: Sequence[np.ndarray],
    candidates: Sequence[np.ndarray],
    k: int = MISMATCHED_PARTNERS,
) -> dict[str, float]:
    """Set-level content figures of `candidates[i]` (log-mel) against `references[i]`.

    mcd_matched_db: mean MCD to the own reference; mcd_mismatched_db: mean MCD to others';
    content_margin_db: mismatched - matched (babble ~0, higher is better); content_accuracy:
    share of utterances closer to their own reference than to every other one tried
    (chance 1 / (k + 1)). Needs at least 2 utterances.
    """
    if len(references) != len(candidates):
        raise ValueError(f"{len(references)} references but {len(candidates)} candidates")
    if len(references) < 2:
        raise ValueError("content scores need at least 2 utterances (one to mismatch)")
    partners = mismatched_partners(len(references), k)
    matched, mismatched, closest = [], [], []
    for i, others in enumerate(partners):
        own = mel_cepstral_distortion(references[i], candidates[i])
        wrong = [mel_cepstral_distortion(references[j], candidates[i]) for j in others]
        matched.append(own)
        mismatched.extend(wrong)
        closest.append(own < min(wrong))
    return {
        "mcd_matched_db": float(np.mean(matched)),
        "mcd_mismatched_db": float(np.mean(mismatched)),
        "content_margin_db": float(np.mean(mismatched) - np.mean(matched)),
        "content_accuracy": float(np.mean(closest)),
        "content_accuracy_chance": 1.0 / (len(partners[0]) + 1),
    }


def mismatched_mcd_db(
    references: Sequence[np.ndarray],
    candidates: Sequence[np.ndarray],
    k: int = MISMATCHED_PARTNERS,
) -> float:
    """Mean MCD of each candidate against the other utterances' references only."""
    partners = mismatched_partners(len(references), k)
    return float(
        np.mean(
            [
                mel_cepstral_distortion(references[j], candidates[i])
                for i, others in enumerate(partners)
                for j in others
            ]
        )
    )
