"""Artifact types that the project's custom components add to TFX's standard ones."""

from tfx.types import artifact


class Quarantine(artifact.Artifact):
    """Corpus rows that never reach training, one JSON line each: {id, line, reason, ...}.

    Custom properties: `total` (int) and `reason_counts` (JSON object reason -> count).
    """

    # KFP's compiler takes custom artifact types only as `<module>.<Class>` it can import.
    TYPE_NAME = "components.Quarantine"


class TFLiteBundle(artifact.Artifact):
    """<uri>/bundle (the mobile bundle, when a variant passed), <uri>/variants/<variant>/ and
    <uri>/report.json / report.md.

    Custom properties: `status` (exported | no_variant_passed | not_blessed), `shipped` (int),
    `bundle_variant`, `bundle_dir`, `report`, `variants` (JSON: per variant status, sizes,
    worst parity figures, RTF with 1 and 2 threads, reasons).
    """

    TYPE_NAME = "components.TFLiteBundle"
