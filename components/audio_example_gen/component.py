"""AudioExampleGen: an LJSpeech-layout speech corpus in, tf.Examples and a quarantine out.

Example:

    example_gen = AudioExampleGen(input_base="/data/LJSpeech-1.1", eval_fraction=0.05)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])

It is a file-based ExampleGen: the stock driver resolves spans/versions of the metadata
pattern (e.g. `span-{SPAN}/metadata.csv`) and fingerprints the input so that an unchanged
corpus is a cache hit; ours also fingerprints the audio beside the metadata.
"""

from __future__ import annotations

from tfx import types
from tfx.components.example_gen import driver, utils
from tfx.dsl.components.base import base_beam_component, base_driver, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import Quarantine
from components.audio_example_gen import executor
from models import features

QUARANTINE_KEY = "quarantine"
DEFAULT_MAX_QUARANTINED_SHARE = 0.2  # pipeline/configs.py's default, for direct users
EVAL_BUCKETS_TOTAL = 1000  # hash buckets: eval_fraction resolves to 1/1000


class AudioExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        "min_duration_s": ExecutionParameter(type=float),
        "max_duration_s": ExecutionParameter(type=float),
        "silence_rms_db": ExecutionParameter(type=float),
        "max_clipped_fraction": ExecutionParameter(type=float),
        # Above this share of quarantined rows the run stops (1.0: never).
        "max_quarantined_share": ExecutionParameter(type=float, optional=True),
    }
    OUTPUTS = {
        **standard_component_specs.FileBasedExampleGenSpec.OUTPUTS,
        QUARANTINE_KEY: ChannelParameter(type=Quarantine),
    }


class AudioCorpusDriver(driver.FileBasedDriver):
    """The stock file-based driver, with the audio files folded into the input fingerprint."""

    def resolve_exec_properties(self, exec_properties, pipeline_info, component_info):
        exec_properties = super().resolve_exec_properties(
            exec_properties, pipeline_info, component_info
        )
        exec_properties[utils.FINGERPRINT_PROPERTY_NAME] += "\n" + executor.audio_fingerprint(
            exec_properties[standard_component_specs.INPUT_BASE_KEY],
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
        )
        return exec_properties

    def _prepare_output_artifacts(
        self,
        input_artifacts,
        output_dict,
        exec_properties,
        execution_id,
        pipeline_info,
        component_info,
    ):
        """Every output, not only `examples` (launchers such as Airflow's call this)."""
        args = (input_artifacts, output_dict, exec_properties, execution_id)
        outputs = base_driver.BaseDriver._prepare_output_artifacts(
            self, *args, pipeline_info, component_info
        )
        outputs.update(super()._prepare_output_artifacts(*args, pipeline_info, component_info))
        return outputs


def split_output_config(eval_fraction: float) -> example_gen_pb2.Output:
    """train/eval by hashing the utterance id, so an utterance never changes split."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    eval_buckets = max(1, round(eval_fraction * EVAL_BUCKETS_TOTAL))
    return example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(
                    name=features.TRAIN_SPLIT, hash_buckets=EVAL_BUCKETS_TOTAL - eval_buckets
                ),
                example_gen_pb2.SplitConfig.Split(
                    name=features.EVAL_SPLIT, hash_buckets=eval_buckets
                ),
            ],
            partition_feature_name=features.ID,
        )
    )


class AudioExampleGen(base_beam_component.BaseBeamComponent):
    """Reads `metadata.csv` + `wavs/<id>.wav`, writes tf.Examples of PCM16 audio and text.

    Outputs:
      examples: `Examples` with `train` and `eval` splits (DESIGN.md's features).
      quarantine: `components.Quarantine`, the rows that were refused, each with its reason.
    """

    SPEC_CLASS = AudioExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = AudioCorpusDriver

    def __init__(
        self,
        input_base: str,
        metadata_pattern: str = "metadata.csv",
        eval_fraction: float = 0.1,
        min_duration_s: float = 0.3,
        max_duration_s: float = 20.0,
        silence_rms_db: float = -60.0,
        max_clipped_fraction: float = 0.001,
        range_config=None,
        max_quarantined_share: float = DEFAULT_MAX_QUARANTINED_SHARE,
    ):
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="corpus", pattern=metadata_pattern)]
        )
        spec = AudioExampleGenSpec(
            input_base=input_base,
            input_config=input_config,
            output_config=split_output_config(eval_fraction),
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            min_duration_s=float(min_duration_s),
            max_duration_s=float(max_duration_s),
            silence_rms_db=float(silence_rms_db),
            max_clipped_fraction=float(max_clipped_fraction),
            max_quarantined_share=float(max_quarantined_share),
            examples=types.Channel(type=standard_artifacts.Examples),
            quarantine=types.Channel(type=Quarantine),
        )
        super().__init__(spec=spec)
