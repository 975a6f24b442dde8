"""The DAG for a growing corpus: which resolver feeds what, and what `--retrain` changes."""

from __future__ import annotations

import json

import pytest

from pipeline import configs
from pipeline.pipeline import create_pipeline


def _pipeline(**kwargs):
    return create_pipeline(
        pipeline_root="/srv/root",
        data_root="/srv/corpus",
        metadata_path="/srv/metadata.sqlite",
        model_name="voice",
        **kwargs,
    )


def _nodes(pipeline) -> dict:
    return {node.id: node for node in pipeline.components}


def _compiled_inputs(pipeline) -> dict:
    """{node id: {input key: [(producer, output key, contexts queried)]}} of the IR that
    LocalDagRunner runs (a Resolver's channels appear under `_<producer>.<key>` names)."""
    from tfx.dsl.compiler import compiler

    inputs = {}
    for node in compiler.Compiler().compile(pipeline).nodes:
        node = node.pipeline_node
        inputs[node.node_info.id] = {
            key: [
                (c.producer_node_query.id, c.output_key, [q.type.name for q in c.context_queries])
                for c in spec.channels
            ]
            for key, spec in node.inputs.inputs.items()
        }
    return inputs


def test_every_span_feeds_transform_and_models_resolve_before_their_anchor():
    pipeline = _pipeline()
    ids = list(_nodes(pipeline))
    for resolver, consumer in (
        ("corpus_spans_resolver", "transform_cache_resolver"),
        ("transform_cache_resolver", "Transform"),
        ("warm_start_model_resolver", "Trainer"),
        ("latest_blessed_model_resolver", "Evaluator"),
    ):
        assert ids.index(resolver) == ids.index(consumer) - 1
    inputs = _compiled_inputs(pipeline)
    # Every run's AudioExampleGen output, not only this run's: no pipeline_run context.
    assert inputs["corpus_spans_resolver"]["_AudioExampleGen.examples"] == [
        ("", "examples", ["pipeline", "node"])
    ]
    this_run = ["pipeline", "pipeline_run", "node"]
    assert inputs["Transform"]["examples"] == [("corpus_spans_resolver", "examples", this_run)]
    # The analyzer cache of any earlier Transform, chosen relative to the spans read now.
    assert inputs["transform_cache_resolver"]["_Transform.updated_analyzer_cache"] == [
        ("", "updated_analyzer_cache", ["pipeline", "node"])
    ]
    assert inputs["transform_cache_resolver"]["_corpus_spans_resolver.examples"] == [
        ("corpus_spans_resolver", "examples", this_run)
    ]
    assert inputs["Transform"]["analyzer_cache"] == [
        ("transform_cache_resolver", "cache", this_run)
    ]
    assert inputs["Trainer"]["base_model"] == [("warm_start_model_resolver", "model", this_run)]
    assert inputs["Evaluator"]["baseline_model"] == [
        ("latest_blessed_model_resolver", "model", this_run)
    ]
    # The anchors: this run's transformed data, and this run's candidate.
    assert inputs["warm_start_model_resolver"]["_Transform.transformed_examples"] == [
        ("Transform", "transformed_examples", this_run)
    ]
    assert inputs["latest_blessed_model_resolver"]["_Trainer.model"] == [
        ("Trainer", "model", this_run)
    ]


def test_retrain_from_scratch_has_no_base_model():
    nodes = _nodes(_pipeline(trainer={"model": "mlp", "warm_start": False}))
    assert "warm_start_model_resolver" not in nodes
    assert "base_model" not in nodes["Trainer"].inputs
    config = json.loads(nodes["Trainer"].exec_properties["custom_config"])
    assert config["warm_start"] is False


def test_a_run_through_transform_resolves_only_the_spans_and_the_cache():
    ids = list(_nodes(_pipeline(until="transform")))
    resolvers = [i for i in ids if i.endswith("_resolver")]
    assert resolvers == ["corpus_spans_resolver", "transform_cache_resolver"]


def test_span_layout_and_reingesting_one_span_reach_the_example_gen():
    ingest = configs.IngestConfig(metadata_pattern="span-{SPAN}/metadata.csv", span=3)
    example_gen = _nodes(_pipeline(ingest=ingest, until="examplegen"))["AudioExampleGen"]
    assert "span-{SPAN}/metadata.csv" in example_gen.exec_properties["input_config"]
    static = json.loads(example_gen.exec_properties["range_config"])["static_range"]
    assert static == {"start_span_number": 3, "end_span_number": 3}


def test_retrain_continue_resolves_the_latest_voice_trained_under_the_name():
    trainer = {
        "model": "mlp",
        "warm_start": False,
        "continue_training": True,
        "model_overrides": {"prior_loss_weight": 10},
    }
    pipeline = _pipeline(trainer=trainer)
    ids = list(_nodes(pipeline))
    assert "warm_start_model_resolver" not in ids
    assert ids.index("continue_model_resolver") == ids.index("Trainer") - 1
    inputs = _compiled_inputs(pipeline)
    assert inputs["Trainer"]["base_model"] == [
        ("continue_model_resolver", "model", ["pipeline", "pipeline_run", "node"])
    ]
    # Every run's Trainer output, not only this run's, and no anchor: each continued run
    # goes on from the voice the previous one produced.
    resolver_inputs = {k: v for k, v in inputs["continue_model_resolver"].items() if v}
    assert resolver_inputs == {"_Trainer.model": [("", "model", ["pipeline", "node"])]}
    config = json.loads(_nodes(pipeline)["Trainer"].exec_properties["custom_config"])
    assert config["continue_training"] is True
    assert config["model_overrides"] == {"prior_loss_weight": 10}
    assert config["voice_name"] == "voice"  # how the resolver tells the voices apart


def test_the_served_name_is_recorded_in_the_trainer_config():
    nodes = _nodes(create_pipeline("/r", "/c", "/m.sqlite", trainer={"model": "attention"}))
    config = json.loads(nodes["Trainer"].exec_properties["custom_config"])
    assert config["voice_name"] == "voice"  # the one default name of run, serve and deploy
    with pytest.raises(ValueError, match="voice_name 'a' differs"):
        _pipeline(trainer={"voice_name": "a"})


@pytest.mark.parametrize("stage", configs.STAGES)
def test_every_until_stage_compiles(stage):
    """`--until anomalygate` failed: "AnomalyGate references downstream node ..."."""
    ids = list(_compiled_inputs(_pipeline(until=stage)))
    assert ids[-1] == stage
    assert [i for i in ids if not i.endswith("_resolver")] == list(
        configs.STAGES[: configs.STAGES.index(stage) + 1]
    )


def test_the_pusher_keeps_the_stock_contract_and_pushes_atomically():
    from tfx.types import standard_artifacts

    from components.atomic_pusher import executor

    pusher = _nodes(_pipeline())["Pusher"]
    assert pusher.executor_spec.executor_class is executor.Executor
    assert pusher.outputs["pushed_model"].type is standard_artifacts.PushedModel
    assert set(pusher.inputs) == {"model", "model_blessing"}
    assert '"/srv/root/serving/voice"' in pusher.exec_properties["push_destination"]


def test_max_quarantined_share_reaches_the_example_gen():
    ingest = configs.IngestConfig(max_quarantined_share=0.35)
    example_gen = _nodes(_pipeline(ingest=ingest, until="examplegen"))["AudioExampleGen"]
    assert example_gen.exec_properties["max_quarantined_share"] == 0.35
    default = _nodes(_pipeline(until="examplegen"))["AudioExampleGen"]
    assert default.exec_properties["max_quarantined_share"] == 0.2


def _corpus(root):
    (root / "wavs").mkdir(parents=True)
    (root / "metadata.csv").write_text("a|hello\n")
    return str(root)


def test_a_pipeline_that_cannot_be_built_still_writes_its_summary(tmp_path):
    from pipeline.local_runner import run_pipeline

    output = tmp_path / "out"
    with pytest.raises(ValueError, match="voice_name 'a' differs"):
        run_pipeline(
            _corpus(tmp_path / "c"), str(output), trainer={"voice_name": "a"}, model_name="b"
        )
    summary = json.loads((output / configs.RUN_SUMMARY_FILE).read_text())
    assert summary["status"] == "failed"
    assert "voice_name 'a' differs" in summary["error"]
    assert summary["components"]["AudioExampleGen"] == {"status": "not run"}


def test_an_early_failure_on_a_fresh_output_is_not_masked_by_the_summary(tmp_path, monkeypatch):
    """It was: "Cannot connect sqlite3 database", and no run_summary.json."""
    from pipeline import local_runner

    class FailingRunner:
        def run(self, pipeline):
            raise RuntimeError("the real error")

    monkeypatch.setattr(local_runner.tfx.orchestration, "LocalDagRunner", FailingRunner)
    output = tmp_path / "out"
    with pytest.raises(RuntimeError, match="the real error"):
        local_runner.run_pipeline(_corpus(tmp_path / "c"), str(output), until="anomalygate")
    summary = json.loads((output / configs.RUN_SUMMARY_FILE).read_text())
    assert summary["error"] == "RuntimeError: the real error"
    assert list(summary["components"]) == list(configs.STAGES[:5])


def test_run_pipeline_passes_create_pipelines_own_arguments_through(tmp_path, monkeypatch):
    """One list of pipeline arguments: create_pipeline's signature; run_pipeline forwards the
    ones it does not resolve itself, and refuses a name create_pipeline does not take."""
    from pipeline import local_runner

    received = {}

    def recording_create_pipeline(**kwargs):
        received.update(kwargs)
        raise RuntimeError("recorded")

    monkeypatch.setattr(local_runner, "create_pipeline", recording_create_pipeline)
    evaluation = configs.EvaluationConfig(baseline_tolerance=0.1)
    passed = {
        "trainer": {"model": "mlp"},
        "train_steps": 3,
        "allow_anomalies": True,
        "evaluation": evaluation,
        "beam_pipeline_args": ["--direct_num_workers=1"],
        "enable_cache": False,
    }
    output = tmp_path / "out"
    with pytest.raises(RuntimeError, match="recorded"):
        local_runner.run_pipeline(_corpus(tmp_path / "c"), str(output), **passed)
    assert {k: received[k] for k in passed} == passed
    assert received["model_name"] == configs.DEFAULT_MODEL_NAME
    assert received["push_base"] == str(output / "serving")
    with pytest.raises(TypeError, match="train_step"):
        local_runner.run_pipeline(_corpus(tmp_path / "d"), str(tmp_path / "o2"), train_step=3)


def test_local_beam_stages_get_no_arguments_that_make_tfx_package_itself(monkeypatch):
    """Any Beam argument without a dependency flag makes every Beam stage of TFX copy its
    install and build an sdist (49 MB left in /tmp per stage); restated defaults are dropped."""
    from tfx.utils import dependency_utils

    assert _pipeline().beam_pipeline_args == []
    restated = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    assert _pipeline(beam_pipeline_args=restated).beam_pipeline_args == []
    chosen = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert _pipeline(beam_pipeline_args=chosen).beam_pipeline_args == chosen

    def no_sdist():
        raise AssertionError("TFX built its ephemeral sdist")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", no_sdist)
    from tfx.components.statistics_gen.executor import Executor

    context = Executor.Context(beam_pipeline_args=_pipeline().beam_pipeline_args)
    assert Executor(context)._beam_pipeline_args == []
    with pytest.raises(AssertionError, match="sdist"):  # what the old defaults did
        Executor(Executor.Context(beam_pipeline_args=["--direct_num_workers=1"]))


def test_transform_summarises_the_lengths_not_every_mel_value():
    from tensorflow_data_validation import StatsOptions
    from tfx.components.transform import stats_options_util

    from models import features, preprocessing

    transform = _nodes(_pipeline())["Transform"]
    assert transform.exec_properties["stats_options_updater_fn"] == (
        configs.STATS_OPTIONS_UPDATER_FN
    )
    pre = preprocessing.stats_options_updater_fn(
        stats_options_util.StatsType.PRE_TRANSFORM, StatsOptions()
    )
    post = preprocessing.stats_options_updater_fn(
        stats_options_util.StatsType.POST_TRANSFORM, StatsOptions()
    )
    assert pre.feature_allowlist == list(features.STATISTICS_FEATURES)
    assert features.AUDIO_PCM16 not in pre.feature_allowlist
    assert {features.TOKEN_LENGTH, features.MEL_FRAMES} <= set(post.feature_allowlist)
    assert features.MEL not in post.feature_allowlist
