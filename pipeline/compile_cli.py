"""`tts-pipeline compile`: the pipeline as a file another orchestrator runs (KFP v2 / Vertex)."""

from __future__ import annotations

import argparse
import os
import sys

from pipeline.configs import DEFAULT_IMAGE, OUTPUT_FORMATS

TARGETS = ("kubeflow-v2",)


def add_compile_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds `compile` to the `tts-pipeline` sub-commands (imports nothing heavy)."""
    compile_ = subparsers.add_parser(
        "compile",
        help="compile the pipeline for Kubeflow Pipelines / Vertex AI (a pipeline JSON)",
        description="Compiles the whole pipeline (or up to --until) with KubeflowV2DagRunner. "
        "The corpus is the run-time parameter 'data-root'; --data-root is its default.",
    )
    compile_.add_argument("--target", choices=TARGETS, default="kubeflow-v2")
    compile_.add_argument("--output", required=True, help="the pipeline JSON to write")
    compile_.add_argument(
        "--image", default=DEFAULT_IMAGE, help="container image built from this repo's Dockerfile"
    )
    compile_.add_argument(
        "--pipeline-root", required=True, help="artifact root, e.g. gs://BUCKET/tts/root"
    )
    compile_.add_argument(
        "--data-root", required=True, help="corpus (LJSpeech layout), e.g. gs://BUCKET/corpus"
    )
    compile_.add_argument(
        "--corpus-layout",
        choices=("flat", "spans"),
        default="flat",
        help="flat: one LJSpeech directory; spans: span-N/ batches, the newest ingested per run",
    )
    compile_.add_argument(
        "--retrain",
        choices=("warm-start", "scratch"),
        default="scratch",
        help="warm-start: from the latest blessed voice of the served name. Vertex resolves "
        "it without the local 'blessed before this data' rule, so a repeated run retrains",
    )
    compile_.add_argument(
        "--push-dir", default=None, help="push base (default: PIPELINE_ROOT/serving)"
    )
    compile_.add_argument(
        "--format",
        choices=OUTPUT_FORMATS,
        default="job",
        help="job: a Vertex AI PipelineJob; spec: the bare pipelineSpec for a KFP 2 backend",
    )
    compile_.add_argument(
        "--beam-pipeline-args",
        default=None,
        help="Beam arguments as one string, e.g. '--runner=DataflowRunner --project=...'",
    )
    compile_.add_argument("--until", default=None, help="last stage compiled; default: all")
    compile_.add_argument(
        "--schema", default=None, help="a saved schema.pbtxt (a URI the image can read)"
    )
    compile_.add_argument("--model", choices=("mlp", "attention", "tacotron2"), default="tacotron2")
    compile_.add_argument("--preset", choices=("small", "base"), default="small")
    compile_.add_argument("--train-steps", type=int, default=200)
    compile_.add_argument("--batch-size", type=int, default=None, help="per replica")
    compile_.add_argument("--model-name", default=None, help="served name (default: the model)")
    compile_.add_argument("--allow-anomalies", action="store_true")
    compile_.add_argument("--no-cache", action="store_true", help="disable step caching")
    compile_.set_defaults(func=run_compile)
    return compile_


def run_compile(args: argparse.Namespace) -> int:
    """Compiles; prints where the file went and what a run can still set."""
    from pipeline import configs
    from pipeline.corpus_layout import LAYOUTS
    from pipeline.kubeflow_v2_runner import DATA_ROOT_PARAMETER, compile_pipeline

    trainer = {
        "model": args.model,
        "preset": args.preset,
        "warm_start": configs.warm_start_setting(args.retrain),
    }
    if args.batch_size:
        trainer["batch_size"] = args.batch_size
    beam_args = args.beam_pipeline_args.split() if args.beam_pipeline_args else None
    try:
        until = configs.resolve_stage(args.until)
        document = compile_pipeline(
            output_path=args.output,
            pipeline_root=args.pipeline_root,
            data_root=args.data_root,
            image=args.image,
            output_format=args.format,
            push_base=args.push_dir,
            beam_pipeline_args=beam_args,
            until=until,
            schema_path=args.schema,
            trainer=trainer,
            train_steps=args.train_steps,
            ingest=configs.IngestConfig(metadata_pattern=LAYOUTS[args.corpus_layout]),
            model_name=args.model_name,
            allow_anomalies=args.allow_anomalies,
            enable_cache=not args.no_cache,
        )
    except ImportError as error:
        print(
            f"tts-pipeline compile: {error} (the KFP v2 compiler needs kfp-pipeline-spec)",
            file=sys.stderr,
        )
        return 2
    except (ValueError, TypeError) as error:
        print(f"tts-pipeline compile: {error}", file=sys.stderr)
        return 2
    spec = document.get("pipelineSpec", document)
    tasks = spec["root"]["dag"]["tasks"]
    print(
        f"compiled {args.target} ({args.format}, {len(tasks)} tasks, image {args.image}) "
        f"-> {os.path.abspath(args.output)}"
    )
    print(f"run-time parameter: {DATA_ROOT_PARAMETER} (default {args.data_root})")
    return 0
