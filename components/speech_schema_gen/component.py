"""SpeechSchemaGen: the stock SchemaGen, with the schema completed for speech examples.

Example:

    schema_gen = SpeechSchemaGen(statistics=statistics_gen.outputs["statistics"])
    transform = Transform(examples=..., schema=schema_gen.outputs["schema"], ...)
"""

from tfx.components import SchemaGen
from tfx.dsl.components.base import executor_spec

from components.speech_schema_gen import executor


class SpeechSchemaGen(SchemaGen):
    """SchemaGen whose schema also declares the PCM audio and pins drift-prone ranges."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
