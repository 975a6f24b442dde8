"""Test voices: small untrained SavedModels in TF Serving's layout, and scripted servables."""

from __future__ import annotations

import os
import shutil

SMALL_EXPORT = {"max_frames": 400, "griffin_lim_iterations": 4}


def export_voice(export_dir: str, seed: int = 0, family: str = "attention") -> str:
    """Exports an untrained `small` model (a few seconds); the seed tells versions apart."""
    from models.testing import export_untrained_voice

    return export_untrained_voice(export_dir, family, seed, **SMALL_EXPORT)


def push_like_pusher(source: str, destination: str, before_saved_model=None) -> None:
    """Copies a SavedModel the way TFX's Pusher does: everything else first, saved_model.pb last.

    `before_saved_model()` runs in between, while the version directory is half written.
    """
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("saved_model.pb"))
    if before_saved_model is not None:
        before_saved_model()
    shutil.copy2(
        os.path.join(source, "saved_model.pb"), os.path.join(destination, "saved_model.pb")
    )


def text_signature() -> dict:
    """`serving_default` as a voice declares it: text DT_STRING [-1] -> audio_length [-1]."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    text = signature.inputs["text"]
    text.name, text.dtype = "serving_default_text:0", types_pb2.DT_STRING
    text.tensor_shape.dim.add(size=-1)
    length = signature.outputs["audio_length"]
    length.name, length.dtype = "StatefulPartitionedCall:0", types_pb2.DT_INT32
    length.tensor_shape.dim.add(size=-1)
    return {"serving_default": signature}


def scripted_servables(model=None, signature_defs=None):
    """A `ModelServer` servable factory whose graph is a Python function, without TensorFlow.

    Requests take the server's real paths (validation, run slots, batching, cancellation);
    `model(inputs)` gets the checked inputs of each graph run, so a test can count, block
    or fail runs there. The default answers audio_length = the UTF-8 length of each text.
    """
    import numpy as np

    from serving.servable import Servable

    def default_model(inputs):
        return {"audio_length": np.array([len(t) for t in inputs["text"]], np.int32)}

    class ScriptedServable(Servable):
        def __init__(self, name, version, path, options):
            self._setup(name, version, path, signature_defs or text_signature(), options)
            self._functions = {key: None for key in self.signature_defs}

        def _call(self, signature_name, inputs):
            return (model or default_model)(inputs)

    return ScriptedServable
