"""Blessing rules: absolute thresholds, then no regression against the blessed baseline."""

from __future__ import annotations

import dataclasses
import json

# Metrics where lower is better; all the evaluator's gating metrics are.
COMPARED_METRICS = ("mcd_db", "mel_l1")
DEFAULT_THRESHOLDS = {"mcd_db": 8.0, "length_error": 0.7, "non_stopping_share": 0.2}


@dataclasses.dataclass
class BlessingDecision:
    blessed: bool
    reasons: list[str]  # why not, one line per failed rule; empty when blessed
    checks: list[str]  # every rule that was applied, with its figures

    def message(self) -> str:
        return "blessed: " + "; ".join(self.checks) if self.blessed else "; ".join(self.reasons)


def parse_thresholds(text: str | None) -> dict[str, float]:
    """{"metric": max_value} from JSON; an unknown shape is an error that says which."""
    if not text:
        return dict(DEFAULT_THRESHOLDS)
    thresholds = json.loads(text)
    if not isinstance(thresholds, dict) or not all(
        isinstance(v, int | float) for v in thresholds.values()
    ):
        raise ValueError(f'thresholds must be a JSON object {{"metric": max}}, got {text!r}')
    return {k: float(v) for k, v in thresholds.items()}


def decide(
    candidate: dict[str, float],
    thresholds: dict[str, float],
    baseline: dict[str, float] | None,
    tolerance: float,
) -> BlessingDecision:
    """Bless only if every threshold holds and no compared metric regresses past tolerance."""
    reasons, checks = [], []
    for metric, limit in sorted(thresholds.items()):
        if metric not in candidate:
            continue  # e.g. non_stopping_share for a model that has no stop token
        value = candidate[metric]
        line = f"{metric} {value:.4g} <= {limit:.4g}"
        checks.append(line)
        if not value <= limit:
            reasons.append(f"{metric} {value:.4g} exceeds the threshold {limit:.4g}")
    if baseline:
        for metric in COMPARED_METRICS:
            if metric not in candidate or metric not in baseline:
                continue
            allowed = baseline[metric] * (1.0 + tolerance)
            checks.append(
                f"{metric} {candidate[metric]:.4g} vs baseline {baseline[metric]:.4g} "
                f"(+{tolerance:.0%} allowed)"
            )
            if not candidate[metric] <= allowed:
                reasons.append(
                    f"{metric} {candidate[metric]:.4g} is worse than the blessed baseline's "
                    f"{baseline[metric]:.4g} by more than {tolerance:.0%}"
                )
    return BlessingDecision(blessed=not reasons, reasons=reasons, checks=checks)
