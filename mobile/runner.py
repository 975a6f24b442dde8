"""Reference on-device runner: text -> wav with the bundle's two LiteRT models, no TensorFlow.

Imports only numpy, ai-edge-litert, the standard library and the bundle's pure-Python text
front end (tts_text/, a copy of the server's). Usage: python runner.py "Hello." -o hello.wav
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import wave

import numpy as np
from ai_edge_litert.interpreter import Interpreter

_HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.isdir(os.path.join(_HERE, "tts_text")):
    sys.path.insert(0, _HERE)
    from tts_text.normalize import text_to_ids  # the copy shipped in the bundle
else:  # running from the repository's mobile/ directory
    from models.text.normalize import text_to_ids

BUNDLE_FILE = "bundle.json"
PAUSE_S = 0.25  # silence between the sentence groups of a split text
# Sentence ends: . ! ? ; followed by white space (the split keeps the punctuation).
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")

log = logging.getLogger("tts_runner")


class TextTooLongError(ValueError):
    """Text (or one of its sentences) has more symbols than the acoustic model takes."""


def split_sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text.strip()) if part.strip()]


class Voice:
    """The bundle's acoustic model and vocoder behind one `synthesize(text)` call."""

    def __init__(self, bundle_dir: str, num_threads: int = 2, seed: int | None = None):
        with open(os.path.join(bundle_dir, BUNDLE_FILE), encoding="utf-8") as handle:
            self.config = json.load(handle)
        self.sample_rate = int(self.config["sample_rate"])
        self.max_tokens = int(self.config["max_tokens"])
        self.max_frames = int(self.config["max_frames"])
        self.rng = np.random.default_rng(seed)
        self.acoustic = self._interpreter(bundle_dir, "acoustic", num_threads)
        self.vocoder = self._interpreter(bundle_dir, "vocoder", num_threads)

    def _interpreter(self, bundle_dir: str, name: str, num_threads: int) -> Interpreter:
        path = os.path.join(bundle_dir, self.config[name]["file"])
        interpreter = Interpreter(model_path=path, num_threads=num_threads)
        interpreter.allocate_tensors()
        return interpreter

    def _tensor_index(self, model: str, kind: str, name: str) -> int:
        interpreter = self.acoustic if model == "acoustic" else self.vocoder
        details = (
            interpreter.get_input_details()
            if kind == "inputs"
            else interpreter.get_output_details()
        )
        position = next(t["index"] for t in self.config[model][kind] if t["name"] == name)
        return details[position]["index"]

    # --- text -------------------------------------------------------------------------------

    def token_groups(self, text: str, split: bool = True) -> list[list[int]]:
        """Symbol ids per acoustic call: the whole text if it fits, else (split=True) whole
        sentences packed greedily up to max_tokens. Raises TextTooLongError otherwise."""
        ids = text_to_ids(text)
        if len(ids) <= self.max_tokens:
            return [ids]
        if not split:
            raise TextTooLongError(
                f"text is {len(ids)} symbols after normalisation; this voice takes at most "
                f"{self.max_tokens} per call (pass split=True to split it at sentence ends)"
            )
        groups: list[list[int]] = []
        pending = ""
        for number, sentence in enumerate(split_sentences(text), start=1):
            alone = text_to_ids(sentence)
            if len(alone) > self.max_tokens:
                raise TextTooLongError(
                    f"sentence {number} ({sentence[:40]!r}...) is {len(alone)} symbols after "
                    f"normalisation; this voice takes at most {self.max_tokens}: shorten it"
                )
            joined = f"{pending} {sentence}" if pending else sentence
            if pending and len(text_to_ids(joined)) > self.max_tokens:
                groups.append(text_to_ids(pending))
                joined = sentence
            pending = joined
        if pending:
            groups.append(text_to_ids(pending))
        return groups

    # --- models -----------------------------------------------------------------------------

    def prenet_noise(self) -> np.ndarray | None:
        """tacotron2's dropout keep masks for one utterance (None for other families)."""
        spec = self.config.get("prenet_noise")
        if not spec:
            return None
        shape = (int(spec["steps"]), int(sum(spec["units"])))
        dropout = float(spec["dropout"])
        if dropout == 0.0:
            return np.ones(shape, np.float32)
        keep = self.rng.random(shape) >= dropout
        return keep.astype(np.float32) / np.float32(1.0 - dropout)

    def mel(self, ids: list[int], noise: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """Symbol ids (at most max_tokens) -> natural-log mel [max_frames, n_mels], length."""
        if not 0 < len(ids) <= self.max_tokens:
            raise TextTooLongError(
                f"{len(ids)} symbols; the acoustic model takes 1 to {self.max_tokens}"
            )
        token_ids = np.zeros((1, self.max_tokens), np.int32)
        token_ids[0, : len(ids)] = ids
        feeds = {"token_ids": token_ids, "token_length": np.array([len(ids)], np.int32)}
        if self.config.get("prenet_noise"):
            feeds["prenet_noise"] = self.prenet_noise() if noise is None else noise
        for name, value in feeds.items():
            self.acoustic.set_tensor(self._tensor_index("acoustic", "inputs", name), value)
        self.acoustic.invoke()
        mel = self.acoustic.get_tensor(self._tensor_index("acoustic", "outputs", "mel"))
        length = self.acoustic.get_tensor(self._tensor_index("acoustic", "outputs", "mel_length"))
        length = int(length[0])
        if length >= self.max_frames:
            log.warning("mel reached the exported maximum of %d frames: speech may be cut", length)
        return mel[0], length

    def audio(self, mel: np.ndarray, mel_length: int) -> np.ndarray:
        """Mel [max_frames, n_mels] (padded) -> float32 waveform of mel_length * hop samples."""
        self.vocoder.set_tensor(self._tensor_index("vocoder", "inputs", "mel"), mel[None])
        self.vocoder.set_tensor(
            self._tensor_index("vocoder", "inputs", "mel_length"), np.array([mel_length], np.int32)
        )
        self.vocoder.invoke()
        audio = self.vocoder.get_tensor(self._tensor_index("vocoder", "outputs", "audio"))
        length = self.vocoder.get_tensor(self._tensor_index("vocoder", "outputs", "audio_length"))
        return audio[0, : int(length[0])].copy()

    def synthesize(self, text: str, split: bool = True) -> np.ndarray:
        """Text -> float32 waveform at self.sample_rate (see token_groups for long text)."""
        pieces = []
        for number, ids in enumerate(self.token_groups(text, split)):
            if number:
                pieces.append(np.zeros(int(PAUSE_S * self.sample_rate), np.float32))
            pieces.append(self.audio(*self.mel(ids)))
        return np.concatenate(pieces)


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit mono PCM, peak-limited to -1 dBFS (Griffin-Lim can overshoot)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    limit = 10 ** (-1 / 20)
    if peak > limit:
        audio = audio * (limit / peak)
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Text to wav with a tts-pipeline LiteRT bundle.")
    parser.add_argument("text")
    parser.add_argument("-o", "--output", default="out.wav")
    parser.add_argument("--bundle", default=_HERE, help="bundle directory (default: here)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None, help="tacotron2 prenet noise seed")
    parser.add_argument(
        "--no-split", action="store_true", help="fail on text over the limit instead of splitting"
    )
    args = parser.parse_args(argv)
    voice = Voice(args.bundle, num_threads=args.threads, seed=args.seed)
    started = time.perf_counter()
    try:
        audio = voice.synthesize(args.text, split=not args.no_split)
    except (TextTooLongError, ValueError) as error:
        print(f"runner: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    write_wav(args.output, audio, voice.sample_rate)
    seconds = len(audio) / voice.sample_rate
    rtf = elapsed / max(seconds, 1e-9)
    print(f"{args.output}: {seconds:.2f} s of audio in {elapsed:.2f} s (RTF {rtf:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
