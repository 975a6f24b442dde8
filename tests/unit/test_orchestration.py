"""Orchestration: the KFP v2 compile mirrors the local DAG; the Airflow DAG and its TFX config."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys

import pytest
from tfx import v1 as tfx

from pipeline import configs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIPELINE_ROOT = "gs://tts-bucket/tts/root"
DATA_ROOT = "gs://tts-bucket/corpus"
IMAGE = "europe-docker.pkg.dev/tts-project/tts/tts-pipeline:test"
MODEL_NAME = "voice-a"
BEAM_ARGS = ["--runner=DataflowRunner", "--project=tts-project", "--region=europe-west4"]
# What the KFP v2 compiler accepts as a custom artifact's schema title (compiler_utils.py).
KFP_SCHEMA_TITLE = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")
RESOLVER_SUFFIXES = ("-model-blessing-resolver", "-model-resolver")


def test_kfp_pipeline_spec_is_installed() -> None:
    """A pinned dependency (pyproject.toml): the KFP compile tests fail, not skip, without it."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    assert pipeline_spec_pb2.PipelineSpec.DESCRIPTOR.name == "PipelineSpec"


def test_custom_artifact_types_are_kfp_schema_titles() -> None:
    """Kubeflow V2 compiles a custom artifact only under a '<module>.<Class>' type name,
    importable in the container (docs/orchestration.md)."""
    from components.artifacts import Quarantine, TFLiteBundle

    for artifact_type in (Quarantine, TFLiteBundle):
        assert KFP_SCHEMA_TITLE.fullmatch(artifact_type.TYPE_NAME), artifact_type.TYPE_NAME


def _local_pipeline(**kwargs) -> tfx.dsl.Pipeline:
    from pipeline.pipeline import create_pipeline

    return create_pipeline(
        pipeline_root="/srv/tts/root",
        data_root="/srv/tts/corpus",
        metadata_path="/srv/tts/metadata.sqlite",
        model_name=MODEL_NAME,
        **kwargs,
    )


@pytest.fixture(scope="module")
def local_pipeline() -> tfx.dsl.Pipeline:
    return _local_pipeline()


@pytest.fixture(scope="module")
def stock_resolver_pipeline() -> tfx.dsl.Pipeline:
    """The local DAG as the KFP v2 compiler takes it: TFX's own resolver strategies only."""
    return _local_pipeline(stock_resolvers_only=True)


@pytest.fixture(scope="module")
def compiled_job(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pipeline.kubeflow_v2_runner import compile_pipeline

    path = tmp_path_factory.mktemp("kfp") / "tts-pipeline.json"
    returned = compile_pipeline(
        output_path=str(path),
        pipeline_root=PIPELINE_ROOT,
        data_root=DATA_ROOT,
        image=IMAGE,
        beam_pipeline_args=BEAM_ARGS,
        model_name=MODEL_NAME,
    )
    with open(path, encoding="utf-8") as handle:
        written = json.load(handle)
    assert written == returned
    return written


def _local_name(task_name: str) -> str:
    """The compiler splits the blessed-model resolver in two tasks; map them back to one."""
    for suffix in RESOLVER_SUFFIXES:
        if task_name.endswith(suffix):
            return task_name[: -len(suffix)]
    return task_name


def test_compiled_json_parses_as_a_pipeline_job(compiled_job: dict) -> None:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    job = json_format.ParseDict(compiled_job, pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(compiled_job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.schema_version == "2.1.0"
    assert spec.pipeline_info.name == configs.PIPELINE_NAME
    assert job.runtime_config.gcs_output_directory == PIPELINE_ROOT
    assert job.runtime_config.parameter_values["data-root"].string_value == DATA_ROOT
    assert spec.root.input_definitions.parameters["data-root"].parameter_type == (
        pipeline_spec_pb2.ParameterType.STRING
    )


def test_every_local_component_is_a_task_with_its_inputs_wired_as_locally(
    compiled_job: dict, stock_resolver_pipeline: tfx.dsl.Pipeline
) -> None:
    tasks = compiled_job["pipelineSpec"]["root"]["dag"]["tasks"]
    nodes = stock_resolver_pipeline.components
    assert {_local_name(name) for name in tasks} == {node.id for node in nodes}
    for node in nodes:
        if isinstance(node, tfx.dsl.Resolver):
            assert {f"{node.id}{suffix}" for suffix in RESOLVER_SUFFIXES} <= set(tasks)
            continue
        task = tasks[node.id]
        wired = {
            key: (
                _local_name(spec["taskOutputArtifact"]["producerTask"]),
                spec["taskOutputArtifact"]["outputArtifactKey"],
            )
            for key, spec in task.get("inputs", {}).get("artifacts", {}).items()
        }
        local = {
            key: (channel.producer_component_id, channel.output_key)
            for key, channel in node.inputs.items()
        }
        assert wired == local, node.id
        upstream = {_local_name(name) for name in task.get("dependentTasks", [])}
        assert upstream == {n.id for n in node.upstream_nodes}, node.id


def test_kfp_differs_from_the_local_dag_only_in_how_transform_reads_spans(
    local_pipeline: tfx.dsl.Pipeline, stock_resolver_pipeline: tfx.dsl.Pipeline
) -> None:
    local_only = {"corpus_spans_resolver", "transform_cache_resolver"}
    local_ids = {node.id for node in local_pipeline.components}
    assert local_ids - local_only == {node.id for node in stock_resolver_pipeline.components}
    assert local_only <= local_ids


def test_image_beam_arguments_and_data_root_parameter(compiled_job: dict) -> None:
    spec = compiled_job["pipelineSpec"]
    executors = spec["deploymentSpec"]["executors"]
    containers = {
        name: executors[component["executorLabel"]]["container"]
        for name, component in spec["components"].items()
        if "container" in executors[component["executorLabel"]]
    }
    assert {container["image"] for container in containers.values()} == {IMAGE}
    for name in ("AudioExampleGen", "StatisticsGen", "Transform"):  # the Beam stages
        assert containers[name]["args"][-len(BEAM_ARGS) :] == BEAM_ARGS, name
    example_gen = spec["root"]["dag"]["tasks"]["AudioExampleGen"]
    assert example_gen["inputs"]["parameters"]["input_base"] == {
        "componentInputParameter": "data-root"
    }
    hook = containers["AudioExampleGen"]["lifecycle"]["preCacheCheck"]
    assert hook["command"][-1] == "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"
    assert hook["args"][:2] == ["--json_serialized_invocation_args", "{{$}}"]


def test_baseline_is_the_latest_blessing_of_the_same_served_name(compiled_job: dict) -> None:
    executors = compiled_job["pipelineSpec"]["deploymentSpec"]["executors"]
    filters = [
        query["filter"]
        for executor in executors.values()
        for query in executor.get("resolver", {}).get("outputArtifactQueries", {}).values()
        if "tfx.ModelBlessing" in query["filter"]
    ]
    assert len(filters) == 2  # the Evaluator's baseline and the Trainer's warm-start base
    for blessing_filter in filters:
        assert "metadata.blessed.number_value=1" in blessing_filter
        assert f'metadata.model_name.string_value="{MODEL_NAME}"' in blessing_filter


def test_compile_parser_imports_nothing_heavy() -> None:
    code = (
        "import argparse, sys; from pipeline.compile_cli import add_compile_parser; "
        "add_compile_parser(argparse.ArgumentParser().add_subparsers()); "
        "assert not {'tensorflow', 'tfx', 'kfp'} & set(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_compile_command_writes_a_bare_spec_for_kfp(tmp_path) -> None:
    from pipeline.compile_cli import add_compile_parser

    parser = argparse.ArgumentParser(prog="tts-pipeline")
    add_compile_parser(parser.add_subparsers(dest="command", required=True))
    output = tmp_path / "spec.json"
    args = parser.parse_args(
        ["compile", "--target", "kubeflow-v2", "--output", str(output), "--format", "spec"]
        + ["--pipeline-root", PIPELINE_ROOT, "--data-root", DATA_ROOT, "--until", "transform"]
        + ["--corpus-layout", "spans"]
    )
    assert args.func(args) == 0
    with open(output, encoding="utf-8") as handle:
        spec = json.load(handle)
    stages = configs.STAGES[: configs.STAGES.index("Transform") + 1]
    assert set(spec["root"]["dag"]["tasks"]) == set(stages)
    assert spec["defaultPipelineRoot"] == PIPELINE_ROOT
    assert "span-{SPAN}/metadata.csv" in json.dumps(spec["root"]["dag"]["tasks"]["AudioExampleGen"])
    assert spec["root"]["inputDefinitions"]["parameters"]["data-root"]["defaultValue"] == DATA_ROOT


# --- Airflow: the TFX side needs no Airflow; the DAG object is built where Airflow is ---


def _airflow_settings(tmp_path) -> object:
    from pipeline.airflow_dag import AirflowSettings

    return AirflowSettings(
        data_root=str(tmp_path / "corpus"),
        output_dir=str(tmp_path / "output"),
        schedule="30 2 * * 1-5",
        model="attention",
        model_name=MODEL_NAME,
    )


def test_airflow_module_does_not_import_airflow() -> None:
    code = "import sys, pipeline.airflow_dag; assert 'airflow' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_airflow_settings_come_from_the_environment() -> None:
    from pipeline.airflow_dag import AirflowSettings

    settings = AirflowSettings.from_env(
        {
            "TTS_DATA_ROOT": "/data/corpus",
            "TTS_OUTPUT_DIR": "/data/out",
            "TTS_SCHEDULE": "0 4 * * *",
            "TTS_TRAIN_STEPS": "50",
            "TTS_START_DATE": "2025-06-01T00:00:00+00:00",
        }
    )
    assert (settings.data_root, settings.output_dir) == ("/data/corpus", "/data/out")
    assert settings.schedule == "0 4 * * *" and settings.train_steps == 50
    assert settings.start_date == datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(ValueError, match="TTS_DATA_ROOT and TTS_OUTPUT_DIR"):
        AirflowSettings.from_env({})


def test_airflow_dag_config_is_a_cron_schedule_without_overlap(tmp_path) -> None:
    from pipeline.airflow_dag import airflow_dag_config

    config = airflow_dag_config(_airflow_settings(tmp_path))
    assert config["schedule"] == "30 2 * * 1-5" and len(config["schedule"].split()) == 5
    assert config["catchup"] is False
    assert config["max_active_runs"] == 1
    assert config["start_date"].tzinfo is not None


def test_airflow_tfx_pipeline_is_the_local_dag(tmp_path, local_pipeline) -> None:
    from pipeline.airflow_dag import DAG_ID, create_airflow_pipeline

    settings = _airflow_settings(tmp_path)
    pipeline = create_airflow_pipeline(settings)
    assert pipeline.pipeline_info.pipeline_name == DAG_ID
    assert [n.id for n in pipeline.components] == [n.id for n in local_pipeline.components]
    output = os.path.abspath(settings.output_dir)
    assert pipeline.pipeline_info.pipeline_root == os.path.join(output, "pipeline_root")
    sqlite = pipeline.metadata_connection_config.sqlite.filename_uri
    assert sqlite == os.path.join(output, configs.METADATA_FILE)
    assert pipeline.beam_pipeline_args == list(configs.DEFAULT_BEAM_ARGS)


def test_airflow_dag_builds(tmp_path, monkeypatch, local_pipeline) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    pytest.importorskip(
        "airflow",
        reason="Airflow is not part of the project's install; docs/orchestration.md installs "
        "it beside the project, where this test builds the DAG object",
    )
    from pipeline.airflow_dag import DAG_ID, create_dag

    dag = create_dag(_airflow_settings(tmp_path))
    assert dag.dag_id == DAG_ID
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert set(dag.task_ids) == {node.id for node in local_pipeline.components}
    for node in local_pipeline.components:
        upstream = dag.get_task(node.id).upstream_task_ids
        assert upstream == {n.id for n in node.upstream_nodes}, node.id
