"""The pipeline's Resolver nodes: which earlier artifacts a run reads from ML Metadata.

Each one answers relative to an anchor from the current run, so that a run repeated on
unchanged input resolves the same artifacts and every stage is a cache hit
(components/resolver_strategies.py says why each anchor is the one it is).
"""

from __future__ import annotations

from tfx import v1 as tfx

from components.resolver_strategies import (
    ANCHOR_KEY,
    AllSpansStrategy,
    LatestBlessedModelOfNameStrategy,
    LatestCreatedBeforeStrategy,
)

TRANSFORM_ID = "Transform"


def corpus_spans(example_gen, after) -> tfx.dsl.Resolver:
    """Every span AudioExampleGen ever wrote under this pipeline, newest version of each.

    Read from ML Metadata rather than wired from this run's ExampleGen, so `after` (the
    anomaly gate) orders it behind this run's ingest.
    """
    resolver = tfx.dsl.Resolver(
        strategy_class=AllSpansStrategy,
        examples=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.Examples,
            producer_component_id=example_gen.id,
            output_key="examples",
        ),
    ).with_id("corpus_spans_resolver")
    resolver.add_upstream_node(after)
    return resolver


def transform_cache(spans) -> tfx.dsl.Resolver:
    """tf.Transform's per-span analyzer cache, as written before the newest of `spans`."""
    return tfx.dsl.Resolver(
        strategy_class=LatestCreatedBeforeStrategy,
        cache=tfx.dsl.Channel(
            type=tfx.types.standard_artifacts.TransformCache,
            producer_component_id=TRANSFORM_ID,
            output_key="updated_analyzer_cache",
        ),
        **{ANCHOR_KEY: spans},
    ).with_id("transform_cache_resolver")


def blessed_model(resolver_id: str, model_name: str, created_before=None) -> tfx.dsl.Resolver:
    """The latest model blessed under `model_name`, older than `created_before` if given."""
    anchor = {ANCHOR_KEY: created_before} if created_before is not None else {}
    return tfx.dsl.Resolver(
        strategy_class=LatestBlessedModelOfNameStrategy,
        config={"model_name": model_name},
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        **anchor,
    ).with_id(resolver_id)
