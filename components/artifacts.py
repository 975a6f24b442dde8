"""Artifact types that the project's custom components add to TFX's standard ones."""

from tfx.types import artifact


class Quarantine(artifact.Artifact):
    """Corpus rows that never reach training, one JSON line each: {id, line, reason, ...}.

    Custom properties: `total` (int) and `reason_counts` (JSON object reason -> count).
    """

    # KFP's compiler takes custom artifact types only as `<module>.<Class>` it can import.
    TYPE_NAME = "components.Quarantine"
