"""Blessing rules: per-metric thresholds (ceilings or floors, models/thresholds.py), then no
regression against the blessed baseline."""

from __future__ import annotations

import dataclasses

from models.thresholds import (  # noqa: F401  (re-exported: the component's vocabulary)
    ALL_OFF,
    DEFAULT_THRESHOLDS,
    METRICS,
    describe_defaults,
    direction,
    merge_thresholds,
    parse_thresholds,
)

# Metrics where lower is better, compared with the blessed baseline.
COMPARED_METRICS = ("mcd_db", "mel_l1")


@dataclasses.dataclass
class BlessingDecision:
    blessed: bool
    reasons: list[str]  # why not, one line per failed rule; empty when blessed
    checks: list[str]  # every rule that was applied, with its figures

    def message(self) -> str:
        return "blessed: " + "; ".join(self.checks) if self.blessed else "; ".join(self.reasons)


def _check(metric: str, value: float, limit: float) -> tuple[str, str | None]:
    """(the check as applied, the reason it failed or None); NaN fails either way."""
    if direction(metric) == "min":
        passed, line, failure = value >= limit, ">=", "is below the floor"
    else:
        passed, line, failure = value <= limit, "<=", "exceeds the threshold"
    reason = None if passed else f"{metric} {value:.4g} {failure} {limit:.4g}"
    return f"{metric} {value:.4g} {line} {limit:.4g}", reason


def decide(
    candidate: dict[str, float],
    thresholds: dict[str, float],
    baseline: dict[str, float] | None,
    tolerance: float,
) -> BlessingDecision:
    """Bless only if every threshold holds and no compared metric regresses past tolerance."""
    reasons, checks = [], []
    for metric, limit in sorted(thresholds.items()):
        direction(metric)  # a misspelt name must not pass as "not measured"
        if metric not in candidate:
            # e.g. non_stopping_share for a model without a stop token, intelligibility for a
            # language without a recogniser: said, not held against the voice.
            checks.append(f"{metric} not measured")
            continue
        line, failure = _check(metric, candidate[metric], limit)
        checks.append(line)
        if failure:
            reasons.append(failure)
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
