"""Pipeline defaults: names, the stage order, and the Beam arguments used on one machine."""

from __future__ import annotations

import dataclasses

from models.thresholds import DEFAULT_THRESHOLDS

PIPELINE_NAME = "tts-pipeline"
METADATA_FILE = "metadata.sqlite"
RUN_SUMMARY_FILE = "run_summary.json"

# Component ids in DAG order; `--until` takes any of them in lower case.
STAGES = (
    "AudioExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "AnomalyGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
    "TFLiteExporter",
)
STAGE_ALIASES = {
    "examplegen": "AudioExampleGen",
    "importschemagen": "SchemaGen",
    "ttsevaluator": "Evaluator",
    "tflite": "TFLiteExporter",
}

# The family `run` trains unless told (mlp learns fastest per CPU-minute; tacotron2 needs a GPU),
# and the one served name of a voice across run, serve, synthesize and serving/deploy/.
DEFAULT_MODEL = "mlp"
DEFAULT_MODEL_NAME = "voice"

# `tts-pipeline compile` (pipeline/compile_cli.py, pipeline/kubeflow_v2_runner.py):
DEFAULT_IMAGE = "tts-pipeline:0.1.0"  # the Dockerfile's tag; push it and pass --image
# "job": a PipelineJob (displayName, pipelineSpec, runtimeConfig), what Vertex AI submits;
# "spec": its pipelineSpec alone, what a Kubeflow Pipelines 2 backend uploads.
OUTPUT_FORMATS = ("job", "spec")

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
STATS_OPTIONS_UPDATER_FN = "models.preprocessing.stats_options_updater_fn"
RUN_FN = "models.model.run_fn"
DEFAULT_TRAIN_STEPS = 200
# Above this share of quarantined rows AudioExampleGen stops the run: a corpus that bad needs
# a person, not a voice trained on what is left.
DEFAULT_MAX_QUARANTINED_SHARE = 0.2
EVAL_STEPS = 1  # the Trainer's own validation pass; TTSEvaluator measures held-out speech

# Beam's own defaults: the in-memory DirectRunner with one worker (on 2 cores,
# multi-processing's start-up costs more than it buys for the demo corpus). Empty on
# purpose: given any Beam argument without a dependency flag, every Beam stage of TFX copies
# its own installation and builds an sdist of it for the workers (~3 s of CPU and 49 MB left
# in /tmp per stage, per run), which local workers never read. Dataflow/Flink/Spark arguments
# replace these at scale.
DEFAULT_BEAM_ARGS: tuple[str, ...] = ()
# Arguments that restate those defaults; dropped so that they do not trigger that sdist.
_BEAM_DEFAULT_RESTATED = frozenset(
    {"--runner=DirectRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"}
)


def beam_args_for_tfx(beam_pipeline_args) -> list[str]:
    """The Beam arguments TFX's stages get: the given ones less those restating Beam's
    defaults (an empty list is what spares the per-stage sdist, see DEFAULT_BEAM_ARGS)."""
    given = list(beam_pipeline_args or DEFAULT_BEAM_ARGS)
    return [arg for arg in given if arg not in _BEAM_DEFAULT_RESTATED]


# `--retrain`: from the weights of the voice blessed before the new data, from scratch, or
# on from the latest voice trained under the name (weights, optimizer state, step count).
RETRAIN_CHOICES = ("warm-start", "scratch", "continue")


def retrain_settings(retrain: str) -> dict:
    """The TrainerConfig fields that `--retrain` sets."""
    if retrain not in RETRAIN_CHOICES:
        raise ValueError(f"unknown --retrain {retrain!r}; one of {RETRAIN_CHOICES}")
    return {"warm_start": retrain == "warm-start", "continue_training": retrain == "continue"}


def warm_start_setting(retrain: str) -> bool:
    """warm-start or scratch (the schedulers' settings); `continue` needs retrain_settings,
    so that a caller that only passes warm_start cannot turn it into a scratch run."""
    if retrain == "continue":
        raise ValueError("--retrain continue sets more than warm_start: use retrain_settings")
    return retrain_settings(retrain)["warm_start"]


@dataclasses.dataclass
class EvaluationConfig:
    """How the TTSEvaluator blesses: absolute thresholds, then no regression past tolerance."""

    # Laid over blessing.DEFAULT_THRESHOLDS: a number overrides, None switches one off, and
    # {**blessing.ALL_OFF, ...} keeps only those given; {} means the defaults.
    thresholds: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    baseline_tolerance: float = 0.05
    max_utterances: int = 0  # 0: the whole eval split
    report_samples: int = 3


@dataclasses.dataclass
class IngestConfig:
    """What AudioExampleGen accepts; rows outside these limits are quarantined."""

    eval_fraction: float = 0.1
    min_duration_s: float = 0.3
    max_duration_s: float = 20.0
    silence_rms_db: float = -60.0
    max_clipped_fraction: float = 0.001
    max_quarantined_share: float = DEFAULT_MAX_QUARANTINED_SHARE  # 1.0: no ceiling
    # pipeline/corpus_layout.py: "metadata.csv", or "span-{SPAN}/metadata.csv" for a corpus
    # that grows one batch (span) at a time.
    metadata_pattern: str = "metadata.csv"
    # None: the newest span. A number: re-ingest that span (after fixing recordings in it).
    span: int | None = None


def resolve_stage(name: str | None) -> str:
    """`transform` -> `Transform`; an unknown stage names the valid ones."""
    if name is None:
        return STAGES[-1]
    key = name.strip().lower()
    by_lower = {stage.lower(): stage for stage in STAGES}
    by_lower.update(STAGE_ALIASES)
    if key not in by_lower:
        valid = ", ".join(stage.lower() for stage in STAGES)
        raise ValueError(f"unknown stage {name!r}; stages are: {valid}")
    return by_lower[key]
