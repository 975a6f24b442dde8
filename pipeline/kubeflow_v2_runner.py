"""Compiles the pipeline with KubeflowV2DagRunner to a JSON for Vertex AI / Kubeflow Pipelines.

Image, pipeline root and push base are fixed at compile time; the corpus is the runtime
parameter `data-root`, settable per run or per schedule (docs/orchestration.md).
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfx import v1 as tfx
from tfx.dsl.components.common import resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)

from pipeline.configs import DEFAULT_IMAGE, OUTPUT_FORMATS
from pipeline.pipeline import create_pipeline

DATA_ROOT_PARAMETER = "data-root"
# The stock file-based ExampleGen driver, run by Vertex before the cache check: it resolves
# {SPAN}/{VERSION} and fingerprints the files the split pattern matches.
EXAMPLE_GEN_DRIVER_COMMAND = (
    "python",
    "-m",
    "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver",
)
EXAMPLE_GEN_ID = "AudioExampleGen"


def create_kubeflow_pipeline(
    pipeline_root: str,
    data_root: str,
    push_base: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    **pipeline_kwargs: Any,
) -> tfx.dsl.Pipeline:
    """create_pipeline() with `data-root` as a RuntimeParameter and no local ML Metadata.

    `pipeline_kwargs` are create_pipeline()'s other arguments (until, trainer, train_steps,
    model_name, evaluation, ingest, schema_path, allow_anomalies, enable_cache, pipeline_name).
    """
    return create_pipeline(
        pipeline_root=pipeline_root,
        data_root=tfx.dsl.experimental.RuntimeParameter(
            name=DATA_ROOT_PARAMETER, ptype=str, default=data_root
        ),
        # Kubeflow and Vertex keep their own ML Metadata; the V2 compiler ignores this
        # SQLite connection, which only LocalDagRunner uses.
        metadata_path="",
        push_base=push_base or pipeline_root.rstrip("/") + "/serving",
        beam_pipeline_args=beam_pipeline_args,
        stock_resolvers_only=True,
        **pipeline_kwargs,
    )


def compile_pipeline(
    output_path: str,
    pipeline_root: str,
    data_root: str,
    image: str = DEFAULT_IMAGE,
    output_format: str = "job",
    push_base: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    **pipeline_kwargs: Any,
) -> dict:
    """Writes the compiled pipeline to `output_path` as JSON and returns it."""
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {output_format!r}; one of {OUTPUT_FORMATS}")
    pipeline = create_kubeflow_pipeline(
        pipeline_root=pipeline_root,
        data_root=data_root,
        push_base=push_base,
        beam_pipeline_args=beam_pipeline_args,
        **pipeline_kwargs,
    )
    # tfx.orchestration.experimental.KubeflowV2DagRunner, imported from its module so that
    # a missing kfp-pipeline-spec is an ImportError naming `kfp`, not an AttributeError.
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    served_names = _use_stock_blessed_model_strategy(pipeline)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=image,
            # Schema 2.1.0: what both Vertex AI and Kubeflow Pipelines 2 backends take.
            use_pipeline_spec_2_1=True,
        )
    )
    try:
        job = runner.run(
            pipeline, parameter_values={DATA_ROOT_PARAMETER: data_root}, write_out=False
        )
    except ValueError as error:
        if "custom artifact type name" not in str(error):
            raise
        raise ValueError(
            f"{error}: Kubeflow V2 takes a custom artifact's TYPE_NAME as '<module>.<Class>', "
            "imported in the container (e.g. 'components.Quarantine')"
        ) from error
    spec = job["pipelineSpec"]
    _add_example_gen_driver(spec)
    for resolver_id, model_name in served_names.items():
        _restrict_blessings_to_model_name(spec, resolver_id, model_name)
    document = job
    if output_format == "spec":
        document = spec
        _move_runtime_config_into_spec(spec, job["runtimeConfig"])
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return document


def _use_stock_blessed_model_strategy(pipeline: tfx.dsl.Pipeline) -> dict[str, str]:
    """Compiles LatestBlessedModelOfNameStrategy as TFX's LatestBlessedModelStrategy.

    The V2 compiler turns only TFX's own strategies into artifact queries. Ours is the stock
    one restricted to blessings of one served name; that restriction is put back as a
    filter on the compiled query. Returns {resolver id: model name} for those resolvers.
    """
    restricted = {}
    for node in pipeline.components:
        if not isinstance(node, tfx.dsl.Resolver):
            continue
        strategy = node.exec_properties.get(resolver.RESOLVER_STRATEGY_CLASS)
        if strategy is LatestBlessedModelStrategy or not (
            isinstance(strategy, type) and issubclass(strategy, LatestBlessedModelStrategy)
        ):
            continue  # stock strategies compile as they are; others fail in the compiler
        config = node.exec_properties.get(resolver.RESOLVER_CONFIG) or {}
        if config.get("model_name"):
            restricted[node.id] = config["model_name"]
        # Resolver exposes no setter; exec_properties is derived from these two attributes.
        node._strategy_class = LatestBlessedModelStrategy
        node._config = {}
    return restricted


def _add_example_gen_driver(spec: dict) -> None:
    """Gives AudioExampleGen the pre-cache-check driver that TFX's own ExampleGens get.

    Without it, the cache key holds only unchanged parameters, so a corpus that gained
    recordings would be a cache hit. Same command line as the executor's, minus its class.
    """
    executors = spec["deploymentSpec"]["executors"]
    component = spec["components"][EXAMPLE_GEN_ID]
    container = executors[component["executorLabel"]]["container"]
    args = list(container["args"])
    index = args.index("--executor_class_path")
    del args[index : index + 2]
    container["lifecycle"] = {
        "preCacheCheck": {"command": list(EXAMPLE_GEN_DRIVER_COMMAND), "args": args}
    }


def _restrict_blessings_to_model_name(spec: dict, resolver_id: str, model_name: str) -> None:
    """The baseline is the latest model blessed under the same served name, as locally."""
    executors = spec["deploymentSpec"]["executors"]
    for task_name, component in spec["components"].items():
        if not task_name.startswith(resolver_id):
            continue
        queries = executors[component["executorLabel"]].get("resolver", {})
        for query in queries.get("outputArtifactQueries", {}).values():
            if 'schema_title="tfx.ModelBlessing"' in query["filter"]:
                query["filter"] += f' AND metadata.model_name.string_value="{model_name}"'


def _move_runtime_config_into_spec(spec: dict, runtime_config: dict) -> None:
    """A bare pipelineSpec has no runtimeConfig: its values become the spec's defaults."""
    parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, value in runtime_config.get("parameterValues", {}).items():
        parameters[name]["defaultValue"] = value
    spec["defaultPipelineRoot"] = runtime_config["gcsOutputDirectory"]
