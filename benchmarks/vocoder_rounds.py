"""The phone's Griffin-Lim rounds: what a recogniser hears against what each round costs.

    .venv/bin/python benchmarks/vocoder_rounds.py [--sentences 40] [--rounds 2,4,6,8,10,12,16,32]
        [--repeats 3] [--workdir /tmp/vocoder-rounds]

Builds (or reuses) an espeak demo corpus of --sentences held-out sentences, takes the log-mel
of each recording (the front end the models are trained on) and runs it through the TFLite
vocoder a bundle ships (builtin ops, LiteRT, 1 thread, max_frames 1500) at each round count.
Per count it prints the phone error rate of PocketSphinx on that audio, the same hypotheses
against other sentences (chance), the share of the gap from chance to the recordings
themselves it closes, the spectral convergence ||S - |STFT(audio)||| / ||S|| (S the
magnitude the vocoder is given; what the rounds reduce, heard as phasiness), and the
vocoder's CPU seconds per second of audio (median over --repeats interleaved passes). Rows
for plain Griffin-Lim (no momentum; TensorFlow, untimed) at --plain rounds give the usual
reference points. `export-tflite --griffin-lim-iterations N` ships a count.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time

import numpy as np
import tensorflow as tf

from models.audio_frontend import log_mel_spectrogram
from models.features import AUDIO
from models.intelligibility import (
    chance_phone_error_rate,
    phone_error_rate,
    recognizer_for,
    relative_intelligibility,
    text_phones,
)
from models.tflite import convert
from models.tflite import vocoder as tflite_vocoder
from models.vocoder import _stft, griffin_lim, mel_to_linear
from pipeline.demo_corpus import build_demo_corpus

MAX_FRAMES = 1500  # the bundle's


def corpus_clips(workdir: str, sentences: int) -> list[tuple[str, np.ndarray]]:
    import soundfile

    corpus = os.path.join(workdir, f"corpus-{sentences}")
    if not os.path.exists(os.path.join(corpus, "metadata.csv")):
        # seed 1: sentences no demo voice (seed 0) was trained on
        build_demo_corpus(corpus, sentences=sentences, seed=1)
    clips = []
    with open(os.path.join(corpus, "metadata.csv"), encoding="utf-8") as handle:
        for clip_id, text, _ in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            audio, rate = soundfile.read(
                os.path.join(corpus, "wavs", f"{clip_id}.wav"), dtype="float32"
            )
            assert rate == AUDIO.sample_rate, rate
            clips.append((text, audio))
    return clips


def runner(model: bytes):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def vocode(interpreter, mel: np.ndarray) -> tuple[np.ndarray, float]:
    """(audio, CPU seconds) of one utterance through the TFLite vocoder."""
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    padded = np.zeros((1, MAX_FRAMES, AUDIO.n_mels), np.float32)
    padded[0, : len(mel)] = mel
    by_name = {d["name"]: d for d in inputs}
    mel_input = next(d for n, d in by_name.items() if "length" not in n)
    length_input = next(d for n, d in by_name.items() if "length" in n)
    interpreter.set_tensor(mel_input["index"], padded)
    interpreter.set_tensor(length_input["index"], np.array([len(mel)], np.int32))
    started = time.process_time()
    interpreter.invoke()
    seconds = time.process_time() - started
    audio_out = next(d for d in outputs if len(d["shape"]) == 2)
    length_out = next(d for d in outputs if len(d["shape"]) == 1)
    length = int(interpreter.get_tensor(length_out["index"])[0])
    return interpreter.get_tensor(audio_out["index"])[0, :length], seconds


def spectral_convergence(mels: list[np.ndarray], audios: list[np.ndarray]) -> float:
    """Over all utterances: ||S - |STFT(audio)||| / ||S||, frame by frame as far as both go."""
    error = target = 0.0
    for mel, audio in zip(mels, audios, strict=True):
        wanted = mel_to_linear(tf.constant(mel[None]))[0].numpy()
        rebuilt = np.abs(_stft(tf.constant(audio[None]), AUDIO)[0].numpy())
        frames = min(len(wanted), len(rebuilt))
        error += float(np.sum((wanted[:frames] - rebuilt[:frames]) ** 2))
        target += float(np.sum(wanted[:frames] ** 2))
    return (error / target) ** 0.5


def plain_griffin_lim(mels: list[np.ndarray], rounds: int) -> list[np.ndarray]:
    run = tf.function(lambda m, n: griffin_lim(m, tf.shape(m)[1:2], n_iter=n, momentum=0.0))
    return [run(tf.constant(mel[None]), tf.constant(rounds))[0][0].numpy() for mel in mels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--rounds", default="2,4,6,8,10,12,16,32")
    parser.add_argument("--plain", default="32,60")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/vocoder-rounds")
    args = parser.parse_args()
    counts = [int(n) for n in args.rounds.split(",")]

    clips = corpus_clips(args.workdir, args.sentences)
    mels = [log_mel_spectrogram(tf.constant(audio)).numpy() for _, audio in clips]
    phones = [text_phones(text)[0] for text, _ in clips]
    seconds = sum(len(audio) for _, audio in clips) / AUDIO.sample_rate
    recognizer = recognizer_for("en")
    heard_recordings = [recognizer.phones(audio, AUDIO.sample_rate) for _, audio in clips]
    ceiling = phone_error_rate(heard_recordings, phones)
    print(
        f"{len(clips)} sentences, {seconds:.1f} s of speech; load average {os.getloadavg()}\n"
        f"recordings: PER {ceiling:.3f}, "
        f"chance {chance_phone_error_rate(heard_recordings, phones):.3f}"
    )

    started = time.monotonic()
    interpreters = {}
    for n in counts:
        function = tflite_vocoder.vocoder_function(MAX_FRAMES, n)
        interpreters[n] = runner(convert.convert(function, "none"))
    print(f"converted {len(counts)} vocoders in {time.monotonic() - started:.0f} s")

    cpu = {n: [] for n in counts}
    audios = {}
    for repeat in range(args.repeats):  # interleaved: each pass runs every count once
        for n in counts if repeat % 2 == 0 else counts[::-1]:
            total, outputs = 0.0, []
            for mel in mels:
                audio, spent = vocode(interpreters[n], mel)
                total += spent
                outputs.append(audio)
            cpu[n].append(total / seconds)
            audios[n] = outputs
        print(f"pass {repeat + 1}/{args.repeats} done, {time.monotonic() - started:.0f} s")

    rows = {f"fast {n} (TFLite)": (audios[n], statistics.median(cpu[n])) for n in counts}
    for n in (int(n) for n in args.plain.split(",") if n):
        rows[f"plain {n} (TF)"] = (plain_griffin_lim(mels, n), None)
    print(
        "\n| Griffin-Lim | PER | chance | intelligibility (0 chance, 1 recordings) "
        "| spectral convergence | vocoder CPU s per audio s (1 thread) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (outputs, cost) in rows.items():
        hypotheses = [recognizer.phones(a, AUDIO.sample_rate) for a in outputs]
        per = phone_error_rate(hypotheses, phones)
        chance = chance_phone_error_rate(hypotheses, phones)
        share = relative_intelligibility(per, chance, ceiling)
        print(
            f"| {name} | {per:.3f} | {chance:.3f} | {'-' if share is None else f'{share:.2f}'} "
            f"| {spectral_convergence(mels, outputs):.4f} | "
            f"{'-' if cost is None else f'{cost:.4f}'} |"
        )


if __name__ == "__main__":
    main()
