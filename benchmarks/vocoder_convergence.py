"""Griffin-Lim: spectral convergence against iterations (plain vs fast, with momentum), and the
cost per iteration of the served and the on-device (TFLite, 1 thread) vocoders, before/after.

    .venv/bin/python benchmarks/vocoder_convergence.py [--wav /tmp/c/wavs/DEMO-0001.wav]
        [--seconds 5] [--baseline-rev 3de03cd~1] [--repeats 7] [--max-frames 1500]

Without --wav a chirp is used; `tts-pipeline demo-corpus /tmp/c --sentences 5 --seed 0` makes
real speech. Spectral convergence is ||S - |STFT(x)||| / ||S|| over the utterance's frames,
with S the magnitude Griffin-Lim is given (the mel's pseudo-inverse). The default iteration
count is the fewest fast-GL iterations that match plain GL at --reference-iterations.
"Before" is the TFLite vocoder module at --baseline-rev (git show), run in the same process,
interleaved with "after": each repeat times every variant once, medians are quoted.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import tensorflow as tf

from models.audio_frontend import log_mel_spectrogram
from models.features import AUDIO
from models.tflite import convert
from models.tflite import vocoder as tflite_vocoder
from models.vocoder import DEFAULT_MOMENTUM, _stft, griffin_lim, mel_to_linear

ITERATIONS = (0, 1, 2, 4, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64)


def speech(path: str | None, seconds: float) -> np.ndarray:
    rate = AUDIO.sample_rate
    if path:
        import soundfile

        audio, source_rate = soundfile.read(path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if source_rate != rate:
            import soxr

            audio = soxr.resample(audio, source_rate, rate).astype(np.float32)
    else:  # a 100 Hz -> 4 kHz chirp with a slow tremolo
        t = np.arange(int(seconds * rate)) / rate
        phase = 2 * np.pi * (100 * t + (4000 - 100) / (2 * seconds) * t**2)
        audio = (0.3 * np.sin(phase) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return audio[: int(seconds * rate)]


def spectral_convergence(log_mel: tf.Tensor, audio: tf.Tensor, frames: int) -> float:
    target = mel_to_linear(log_mel)[0, :frames]
    rebuilt = tf.abs(_stft(audio, AUDIO))[0, :frames]
    return float(tf.norm(target - rebuilt) / tf.norm(target))


def convergence(log_mel: tf.Tensor, frames: int) -> dict[str, list[float]]:
    length = tf.constant([frames])
    curves = {}
    for name, momentum in (("plain", 0.0), ("fast", DEFAULT_MOMENTUM)):
        run = tf.function(lambda m, n, mo=momentum: griffin_lim(m, length, n_iter=n, momentum=mo))
        curves[name] = [
            spectral_convergence(log_mel, run(log_mel, tf.constant(n))[0], frames)
            for n in ITERATIONS
        ]
    return curves


def baseline_module(rev: str):
    """models/tflite/vocoder.py as it was at rev, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:models/tflite/vocoder.py"], check=True, capture_output=True
    ).stdout
    path = os.path.join(tempfile.mkdtemp(), "baseline_vocoder.py")
    with open(path, "wb") as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("baseline_vocoder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interpreter(model: bytes, mel: np.ndarray, length: int):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model, num_threads=1)
    runner.allocate_tensors()
    inputs = runner.get_input_details()
    runner.set_tensor(inputs[0]["index"], mel)
    runner.set_tensor(inputs[1]["index"], np.array([length], np.int32))
    return runner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wav", default=None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--baseline-rev", default="3de03cd~1")  # before issue 13
    parser.add_argument("--reference-iterations", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-frames", type=int, default=1500)
    parser.add_argument("--iterations-low", type=int, default=4)
    parser.add_argument("--iterations-high", type=int, default=20)
    args = parser.parse_args()

    audio = speech(args.wav, args.seconds)
    log_mel = log_mel_spectrogram(tf.constant(audio[None]))
    frames = int(log_mel.shape[1])
    print(f"input: {args.wav or 'chirp'}, {len(audio) / AUDIO.sample_rate:.2f} s, {frames} frames")
    print(f"load average: {os.getloadavg()}")

    curves = convergence(log_mel, frames)
    print(f"\n| iterations | plain GL SC | fast GL SC (momentum {DEFAULT_MOMENTUM:.2f}) |")
    print("| --- | --- | --- |")
    for i, n in enumerate(ITERATIONS):
        print(f"| {n} | {curves['plain'][i]:.4f} | {curves['fast'][i]:.4f} |")
    reference = curves["plain"][ITERATIONS.index(args.reference_iterations)]
    matching = [n for n, sc in zip(ITERATIONS, curves["fast"], strict=True) if sc <= reference]
    pick = matching[0] if matching else None
    print(
        f"plain GL at {args.reference_iterations}: SC {reference:.4f}; "
        f"fewest fast-GL iterations at or below it: {pick}"
    )

    # Per-iteration cost under LiteRT, 1 thread: two iteration counts per implementation.
    low, high = args.iterations_low, args.iterations_high
    padded = np.zeros((1, args.max_frames, AUDIO.n_mels), np.float32)
    padded[0, :frames] = log_mel[0].numpy()
    old = baseline_module(args.baseline_rev)
    pick_or_reference = pick or args.reference_iterations
    counts = {
        "before": sorted({low, high, args.reference_iterations}),
        "after": sorted({low, high, pick_or_reference}),
    }
    runners = {}
    for label, module, kwargs in (
        ("before", old, {}),
        ("after", tflite_vocoder, {"momentum": DEFAULT_MOMENTUM}),
    ):
        for n in counts[label]:
            fn = module.vocoder_function(args.max_frames, n, **kwargs)
            runners[(label, n)] = interpreter(convert.convert(fn, "none"), padded, frames)
    # The served Griffin-Lim (TensorFlow): before = plain, 32 iterations over every padded
    # frame; after = fast, over the utterance (+ k - 1 frames), at the picked count.
    k = AUDIO.win_length // AUDIO.hop_length
    length = tf.constant([frames])
    served = {
        "served before (plain, all max_frames)": (
            tf.constant(padded),
            tf.function(
                lambda m: griffin_lim(m, length, n_iter=args.reference_iterations, momentum=0.0)
            ),
        ),
        "served after (fast, trimmed)": (
            tf.constant(padded[:, : frames + k - 1]),
            tf.function(lambda m: griffin_lim(m, length, n_iter=pick_or_reference)),
        ),
    }
    for mel, fn in served.values():
        fn(mel)  # trace
    for runner in runners.values():
        runner.invoke()  # warm up
    wall = {key: [] for key in [*runners, *served]}
    cpu = {key: [] for key in [*runners, *served]}

    def timed(key, call):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall[key].append(time.perf_counter() - start_wall)
        cpu[key].append(time.process_time() - start_cpu)

    for _ in range(args.repeats):  # interleaved
        for key, runner in runners.items():
            timed(key, runner.invoke)
        for key, (mel, fn) in served.items():
            timed(key, lambda mel=mel, fn=fn: fn(mel)[0].numpy())
    # On a shared machine CPU time (this process) is steadier than wall time; both are shown.
    for title, times in (("CPU time", cpu), ("wall time", wall)):
        median = {key: statistics.median(v) * 1e3 for key, v in times.items()}
        print(f"\n{title}, median of {args.repeats} interleaved runs, {frames} frames:")
        print("TFLite vocoder, LiteRT 1 thread:")
        per_iteration = {}
        for label in ("before", "after"):
            per_iteration[label] = (median[(label, high)] - median[(label, low)]) / (high - low)
            listed = ", ".join(f"{n} it {median[(label, n)]:.1f} ms" for n in counts[label])
            print(f"  {label}: {listed} -> {per_iteration[label]:.2f} ms/iteration")
        before_total = median[("before", args.reference_iterations)]
        after_total = median[("after", pick_or_reference)]
        print(f"  per iteration: {per_iteration['before'] / per_iteration['after']:.2f}x faster")
        print(
            f"  at equal convergence: before (plain) {args.reference_iterations} it "
            f"{before_total:.0f} ms, after (fast) {pick_or_reference} it {after_total:.0f} ms "
            f"-> {before_total / after_total:.2f}x faster"
        )
        for key in served:
            print(f"{key}: {median[key]:.0f} ms")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
