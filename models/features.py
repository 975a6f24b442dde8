"""Feature names and the audio/text front-end constants: the one place they live.

Everything that reads or writes examples (AudioExampleGen, Transform, the Trainer, the
evaluator and the exported signatures) imports its names and numbers from here.
"""

from __future__ import annotations

import dataclasses
import json

# --- Raw tf.Example features written by AudioExampleGen (DESIGN.md, "Data contracts") ---
ID = "id"
TEXT = "text"
AUDIO_PCM16 = "audio_pcm16"
DURATION_S = "duration_s"
RMS_DB = "rms_db"
PEAK = "peak"
CLIPPED_FRACTION = "clipped_fraction"
SOURCE_SAMPLE_RATE = "source_sample_rate"
TEXT_CHARS = "text_chars"

# Features that statistics and schema reason about; the PCM bytes are left out on purpose
# (one opaque blob per clip: costly to summarise, nothing to learn from its histogram).
DESCRIPTOR_FEATURES = (DURATION_S, RMS_DB, PEAK, CLIPPED_FRACTION, SOURCE_SAMPLE_RATE, TEXT_CHARS)
STATISTICS_FEATURES = (ID, TEXT) + DESCRIPTOR_FEATURES

# --- Transformed features written by Transform ---
TOKEN_IDS = "token_ids"  # int64 varlen: normalised text as symbol ids
TOKEN_LENGTH = "token_length"  # int64 scalar
MEL = "mel"  # float32 varlen: normalised log-mel, frames * n_mels, row-major
MEL_FRAMES = "mel_frames"  # int64 scalar
MEL_MEAN = "mel_mean"  # float32 [n_mels]: the dataset statistics used to normalise MEL
MEL_STD = "mel_std"  # float32 [n_mels]

# AUDIO_PCM16 scale: symmetric, +-1.0 <-> +-32767, so -32768 is never written.
PCM16_SCALE = 32767.0

TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    """The audio front end (DESIGN.md): shared by Transform, evaluation and export."""

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    log_floor: float = 1e-5

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AudioConfig:
        return cls(**json.loads(text))


AUDIO = AudioConfig()
