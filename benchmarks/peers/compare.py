"""Project vs peers (Coqui TTS, librosa), 1 thread each: CPU and wall time per second of audio.

    .venv/bin/python benchmarks/peers/compare.py [--repeats 7] [--seconds 5]
        [--peers-python build/peers-venv/bin/python] [--no-tacotron2] [--json out.json]

The project's voices (random weights, built and exported here as the Trainer would, cached
under --workdir) run in this process; the peers run in benchmarks/peers/peer_worker.py under
the peers' own virtualenv (benchmarks/peers/setup_env.sh), a long-lived subprocess that
answers one timed run per request. Every repeat runs every case once, project and peer cases
round-robin, so load drifts hit both sides alike. Everyone gets 1 thread: TF intra/inter-op 1,
LiteRT num_threads=1, torch.set_num_threads(1), OMP/MKL/OpenBLAS 1. CPU time is the process's
(time.process_time, in the process that does the work), per second of audio produced.

Durations are pinned so every model speaks the same length: the NAR voices' and FastPitch's
duration predictors output a constant (zero kernel, bias = log of the frames per token),
tacotron2 (ours and Coqui's) never stop and run to the same frame count, VITS's length scale
is calibrated to it. Vocoders all get the same mel and the same Griffin-Lim iteration count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
os.environ.update(ONE_THREAD_ENV)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))  # the benchmarks beside this directory

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import logging as absl_logging  # noqa: E402

absl_logging.set_verbosity(absl_logging.WARNING)

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

from tflite_export import untrained_model  # noqa: E402

from models import features  # noqa: E402
from models.audio_frontend import mel_to_linear_matrix  # noqa: E402
from models.export import MEL_SIGNATURE, SIGNATURE, export_saved_model  # noqa: E402
from models.testing import pin_durations  # noqa: E402
from models.text.normalize import text_to_ids  # noqa: E402
from models.tflite import bundle  # noqa: E402
from models.tflite.export import export_tflite  # noqa: E402
from models.vocoder import DEFAULT_ITERATIONS, DEFAULT_MOMENTUM, griffin_lim  # noqa: E402

# About 5 s of speech at the pinned durations (76 symbols with EOS, 6 frames each: 5.29 s).
SENTENCE = "The quick brown fox paid three dollars for two tickets on the fifth of May."
DEFAULT_MAX_FRAMES = 1500  # the Trainer's export default
# Issue 13's targets: CPU seconds per audio second on 1 thread.
TARGETS = {
    "savedmodel text->wav mlp/small": 0.03,
    "tflite text->wav mlp/small float32": 0.03,
    "tflite text->wav mlp/base int8": 0.05,
}
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_worker.py")


# --- the project's voices ----------------------------------------------------------------------


def pinned_voice(family: str, preset: str, frames_per_token: int):
    """An untrained model whose synthesis has a known length: NAR durations fixed at
    frames_per_token for every token; tacotron2's gate never fires (runs to max_frames)."""
    model = untrained_model(family, preset)  # tacotron2's gate already silenced
    if family != "tacotron2":
        pin_durations(model, frames_per_token)
    return model


def exported_voice(
    workdir: str, family: str, preset: str, max_frames: int, iterations: int, per_token: int
) -> str:
    """SavedModel directory of a pinned voice (exported once, then reused from workdir)."""
    directory = os.path.join(
        workdir, f"{family}-{preset}-f{max_frames}-it{iterations}-d{per_token}", "saved_model"
    )
    if not os.path.exists(os.path.join(directory, "saved_model.pb")):
        started = time.monotonic()
        model = pinned_voice(family, preset, per_token)
        mean, std = np.full(80, -4.0, np.float32), np.full(80, 2.0, np.float32)
        export_saved_model(
            model,
            directory,
            family,
            preset,
            mean,
            std,
            max_frames,
            griffin_lim_iterations=iterations,
        )
        print(f"exported {family}/{preset} in {time.monotonic() - started:.0f} s", flush=True)
    return directory


def tflite_bundle(saved_model_dir: str, quantize: str) -> str:
    """Variant bundle directory (models.tflite.export_tflite, parity on SENTENCE only)."""
    out = os.path.join(os.path.dirname(saved_model_dir), f"tflite-{quantize}")
    name = {"none": "float32", "float16": "float16", "dynamic": "dynamic_int8"}[quantize]
    variant = os.path.join(out, "variants", name)
    if not os.path.exists(os.path.join(variant, bundle.BUNDLE_FILE)):
        started = time.monotonic()
        report = export_tflite(
            saved_model_dir, out, quantize=quantize, sentences=[SENTENCE], threads=()
        )
        entry = report["variants"][name]
        print(
            f"TFLite {name} of {saved_model_dir}: {entry['status']} "
            f"{'; '.join(entry['reasons'])} in {time.monotonic() - started:.0f} s",
            flush=True,
        )
        if "files" not in entry:
            raise RuntimeError(f"TFLite {name} did not convert: {entry['reasons']}")
    return variant


class ProjectCases:
    """The project's timed calls; each returns the seconds of audio (or mel) it produced."""

    def __init__(self, args, per_token: int):
        hop, rate = features.AUDIO.hop_length, features.AUDIO.sample_rate
        self.seconds_per_frame = hop / rate
        self.iterations = args.griffin_lim_iterations
        small = exported_voice(
            args.workdir, "mlp", "small", DEFAULT_MAX_FRAMES, self.iterations, per_token
        )
        base = exported_voice(
            args.workdir, "mlp", "base", DEFAULT_MAX_FRAMES, self.iterations, per_token
        )
        self.runner = bundle.load_runner()
        self.small_sm = tf.saved_model.load(small)
        self.base_sm = tf.saved_model.load(base)
        self.small_tfl = self.runner.Voice(tflite_bundle(small, "none"), num_threads=1, seed=0)
        self.base_tfl = self.runner.Voice(tflite_bundle(base, "dynamic"), num_threads=1, seed=0)
        self.ids = text_to_ids(SENTENCE)
        self.frames = per_token * len(self.ids)
        self.taco_tfl = None
        if args.tacotron2:
            taco = exported_voice(
                args.workdir, "tacotron2", "base", self.frames, self.iterations, 0
            )
            self.taco_tfl = self.runner.Voice(tflite_bundle(taco, "dynamic"), num_threads=1, seed=0)
            self.taco_noise = self.taco_tfl.prenet_noise()
        # The mel every vocoder gets: the small voice's, as the SavedModel serves it.
        served = self.small_sm.signatures[MEL_SIGNATURE](
            token_ids=tf.constant([self.ids], tf.int32),
            token_length=tf.constant([len(self.ids)], tf.int32),
        )
        self.mel = served["mel"].numpy()[0]
        self.mel_length = int(served["mel_length"].numpy()[0])
        self.tfl_mel = np.zeros((DEFAULT_MAX_FRAMES, self.mel.shape[1]), np.float32)
        self.tfl_mel[: len(self.mel)] = self.mel
        # The served Griffin-Lim as Synthesizer._vocode runs it: over the utterance plus the
        # k - 1 frames its last windows reach.
        k = features.AUDIO.win_length // hop
        reach = np.zeros((1, self.mel_length + k - 1, self.mel.shape[1]), np.float32)
        reach[0, : self.mel_length] = self.mel[: self.mel_length]
        self.reach = tf.constant(reach)
        length = tf.constant([self.mel_length])
        self.served_gl = tf.function(
            lambda mel: griffin_lim(mel, length, n_iter=self.iterations, momentum=DEFAULT_MOMENTUM)
        )
        self.profile = args.profile
        if self.profile:
            self._profile_cases(args, per_token, k)

    def _profile_cases(self, args, per_token: int, k: int) -> None:
        """Where the TFLite time goes: the acoustic models exported for the utterance's length
        (max_frames the next multiple of 64 past its frames) instead of the default 1500, and
        the vocoder's fixed cost (no Griffin-Lim iteration)."""
        from ai_edge_litert.interpreter import Interpreter

        from models.tflite import convert
        from models.tflite.vocoder import vocoder_function

        self.tight_frames = -(-(self.frames + k - 1) // 64) * 64
        small = exported_voice(
            args.workdir, "mlp", "small", self.tight_frames, self.iterations, per_token
        )
        base = exported_voice(
            args.workdir, "mlp", "base", self.tight_frames, self.iterations, per_token
        )
        self.small_tight = self.runner.Voice(tflite_bundle(small, "none"), num_threads=1, seed=0)
        self.base_tight = self.runner.Voice(tflite_bundle(base, "dynamic"), num_threads=1, seed=0)
        self.base_tight_float = self.runner.Voice(
            tflite_bundle(base, "none"), num_threads=1, seed=0
        )
        setup_only = convert.convert(vocoder_function(DEFAULT_MAX_FRAMES, 0), "none")
        self.setup_vocoder = Interpreter(model_content=setup_only, num_threads=1)
        self.setup_vocoder.allocate_tensors()
        inputs = self.setup_vocoder.get_input_details()
        self.setup_vocoder.set_tensor(inputs[0]["index"], self.tfl_mel[None])
        self.setup_vocoder.set_tensor(inputs[1]["index"], np.array([self.mel_length], np.int32))

    def tfl_vocoder_setup(self) -> float:
        self.setup_vocoder.invoke()
        return self.mel_length * self.seconds_per_frame

    def cases(self) -> dict:
        cases = {
            "savedmodel text->wav mlp/small": self.sm_text,
            "tflite text->wav mlp/small float32": lambda: self.tfl_text(self.small_tfl),
            "tflite text->wav mlp/base int8": lambda: self.tfl_text(self.base_tfl),
            "savedmodel acoustic mlp/base": self.sm_acoustic,
            "tflite acoustic mlp/base int8": lambda: self.tfl_acoustic(self.base_tfl),
            "tflite acoustic mlp/small float32": lambda: self.tfl_acoustic(self.small_tfl),
            "savedmodel vocoder (Griffin-Lim)": self.sm_vocoder,
            "tflite vocoder float32 (Griffin-Lim)": self.tfl_vocoder,
        }
        if self.taco_tfl is not None:
            cases["tflite acoustic tacotron2/base int8"] = self.taco_acoustic
        if self.profile:
            tight = f"max_frames {self.tight_frames}"
            acoustic = {
                f"mlp/small float32 {tight}": self.small_tight,
                f"mlp/base float32 {tight}": self.base_tight_float,
                f"mlp/base int8 {tight}": self.base_tight,
            }
            for name, voice in acoustic.items():
                cases[f"profile: tflite acoustic {name}"] = lambda v=voice: self.tfl_acoustic(v)
            cases[f"profile: tflite text->wav mlp/base int8 {tight}"] = lambda: self.tfl_text(
                self.base_tight
            )
            cases["profile: tflite vocoder float32, 0 iterations"] = self.tfl_vocoder_setup
        return cases

    def sm_text(self) -> float:
        out = self.small_sm.signatures[SIGNATURE](text=tf.constant([SENTENCE]))
        return int(out["audio_length"].numpy()[0]) / features.AUDIO.sample_rate

    def tfl_text(self, voice) -> float:
        return len(voice.synthesize(SENTENCE)) / features.AUDIO.sample_rate

    def sm_acoustic(self) -> float:
        out = self.base_sm.signatures[MEL_SIGNATURE](
            token_ids=tf.constant([self.ids], tf.int32),
            token_length=tf.constant([len(self.ids)], tf.int32),
        )
        return int(out["mel_length"].numpy()[0]) * self.seconds_per_frame

    def tfl_acoustic(self, voice) -> float:
        return voice.mel(self.ids)[1] * self.seconds_per_frame

    def taco_acoustic(self) -> float:
        return self.taco_tfl.mel(self.ids, self.taco_noise)[1] * self.seconds_per_frame

    def sm_vocoder(self) -> float:
        audio, length = self.served_gl(self.reach)
        audio.numpy()
        return int(length.numpy()[0]) / features.AUDIO.sample_rate

    def tfl_vocoder(self) -> float:
        return len(self.small_tfl.audio(self.tfl_mel, self.mel_length)) / features.AUDIO.sample_rate


def timed(call) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    audio_s = call()
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "audio_s": audio_s,
    }


# --- the peers -------------------------------------------------------------------------------


class PeerWorker:
    """peer_worker.py in the peers' virtualenv: one JSON line per request."""

    def __init__(self, python: str, setup: dict):
        env = {**os.environ, **ONE_THREAD_ENV}
        self.process = subprocess.Popen(
            [python, WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.info = self.request(setup)

    def request(self, message: dict) -> dict:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"peer worker exited ({self.process.wait()}); see its stderr")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"peer worker: {answer['error']}")
        return answer

    def close(self) -> None:
        try:
            self.request({"quit": True})
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.process.wait(timeout=60)


# --- the report ------------------------------------------------------------------------------


def summary(runs: list[dict]) -> dict:
    """Per second of audio: median and min-max of CPU and wall time."""
    cpu = [r["cpu_s"] / r["audio_s"] for r in runs]
    wall = [r["wall_s"] / r["audio_s"] for r in runs]
    return {
        "cpu": statistics.median(cpu),
        "cpu_min": min(cpu),
        "cpu_max": max(cpu),
        "wall": statistics.median(wall),
        "wall_min": min(wall),
        "wall_max": max(wall),
        "audio_s": statistics.median(r["audio_s"] for r in runs),
        "runs": len(runs),
    }


def spread(s: dict, key: str) -> str:
    return f"{s[key]:.4f} ({s[key + '_min']:.4f}-{s[key + '_max']:.4f})"


COMPARISONS = (  # (what, project case, peer case)
    ("acoustic", "tflite acoustic mlp/base int8", "peer acoustic FastPitch"),
    ("acoustic", "savedmodel acoustic mlp/base", "peer acoustic FastPitch"),
    ("acoustic", "tflite acoustic tacotron2/base int8", "peer acoustic Coqui Tacotron2"),
    ("vocoder", "savedmodel vocoder (Griffin-Lim)", "peer vocoder Coqui Griffin-Lim"),
    ("vocoder", "savedmodel vocoder (Griffin-Lim)", "peer vocoder librosa.griffinlim"),
    ("vocoder", "tflite vocoder float32 (Griffin-Lim)", "peer vocoder Coqui Griffin-Lim"),
    ("vocoder", "tflite vocoder float32 (Griffin-Lim)", "peer vocoder librosa.griffinlim"),
    ("text->wav", "savedmodel text->wav mlp/small", "peer text->wav FastPitch + Coqui GL"),
    ("text->wav", "tflite text->wav mlp/small float32", "peer text->wav FastPitch + Coqui GL"),
    ("text->wav", "tflite text->wav mlp/base int8", "peer text->wav FastPitch + Coqui GL"),
    ("text->wav", "savedmodel text->wav mlp/small", "peer text->wav VITS"),
    ("text->wav", "tflite text->wav mlp/base int8", "peer text->wav VITS"),
)


def report(results: dict[str, dict], load: dict, notes: list[str]) -> str:
    lines = [
        "Per second of audio, 1 thread; median (min-max) over the repeats.",
        f"load average before {load['before']}, after {load['after']} on {os.cpu_count()} CPUs",
        *notes,
        "",
        "| case | audio s | CPU s / audio s | wall s / audio s |",
        "| --- | --- | --- | --- |",
    ]
    for case, s in results.items():
        lines.append(f"| {case} | {s['audio_s']:.2f} | {spread(s, 'cpu')} | {spread(s, 'wall')} |")
    lines += [
        "",
        "Ratios project / peer (below 1: the project is faster; CPU and wall medians):",
        "",
        "| what | project | peer | CPU ratio | wall ratio | peer faster or slower |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for what, mine, theirs in COMPARISONS:
        if mine not in results or theirs not in results:
            continue
        ratio = results[mine]["cpu"] / results[theirs]["cpu"]
        wall = results[mine]["wall"] / results[theirs]["wall"]
        verdict = f"project {1 / ratio:.2f}x faster" if ratio < 1 else f"peer {ratio:.2f}x faster"
        lines.append(f"| {what} | {mine} | {theirs} | {ratio:.3f} | {wall:.3f} | {verdict} |")
    lines += [
        "",
        "Issue 13 targets (CPU s per audio s, 1 thread, median):",
        "",
        "| case | median | worst run | target | verdict | vs FastPitch + Coqui GL |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    peer = results.get("peer text->wav FastPitch + Coqui GL")
    for case, target in TARGETS.items():
        s = results[case]
        verdict = "PASS" if s["cpu"] <= target else "MISS"
        speedup = f"{peer['cpu'] / s['cpu']:.1f}x faster (goal 4x)" if peer else "-"
        lines.append(
            f"| {case} | {s['cpu']:.4f} | {s['cpu_max']:.4f} | {target} | {verdict} | {speedup} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=5.0, help="target utterance length")
    parser.add_argument("--griffin-lim-iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument(
        "--peers-python", default=os.path.join(ROOT, "build", "peers-venv", "bin", "python")
    )
    parser.add_argument("--no-peers", dest="peers", action="store_false")
    parser.add_argument("--no-tacotron2", dest="tacotron2", action="store_false")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also time the TFLite acoustic models exported for the utterance's length and "
        "the TFLite vocoder without iterations (where the TFLite time goes)",
    )
    parser.add_argument("--workdir", default=os.path.join(ROOT, "build", "peers-bench"))
    parser.add_argument("--json", default=None, help="also write every run here")
    args = parser.parse_args()

    os.makedirs(args.workdir, exist_ok=True)
    ids = text_to_ids(SENTENCE)
    target_frames = args.seconds * features.AUDIO.sample_rate / features.AUDIO.hop_length
    per_token = max(1, round(target_frames / len(ids)))
    project = ProjectCases(args, per_token)
    frames = project.frames
    notes = [
        f"sentence {SENTENCE!r}: {len(ids)} symbols x {per_token} frames = {frames} frames "
        f"({frames * project.seconds_per_frame:.2f} s); Griffin-Lim {args.griffin_lim_iterations}"
        f" iterations everywhere (project: fast GL, momentum {DEFAULT_MOMENTUM}; Coqui: plain)",
        "project: untrained voices with pinned durations, exported as the Trainer does "
        f"(max_frames {DEFAULT_MAX_FRAMES}; tacotron2 {frames}); TF 1 intra/inter thread, "
        "LiteRT num_threads=1",
    ]
    cases = {name: call for name, call in project.cases().items()}
    worker = None
    if args.peers:
        mel_path = os.path.join(args.workdir, "vocoder_mel.npy")
        inverse_path = os.path.join(args.workdir, "mel_to_linear.npy")
        np.save(mel_path, project.mel[: project.mel_length])
        np.save(inverse_path, mel_to_linear_matrix())
        worker = PeerWorker(
            args.peers_python,
            {
                "setup": True,
                "text": SENTENCE,
                "frames": frames,
                "mel": mel_path,
                "mel_to_linear": inverse_path,
                "griffin_lim_iterations": args.griffin_lim_iterations,
                "sample_rate": features.AUDIO.sample_rate,
                "n_fft": features.AUDIO.n_fft,
                "hop_length": features.AUDIO.hop_length,
                "win_length": features.AUDIO.win_length,
                "tacotron2": args.tacotron2,
            },
        )
        notes += worker.info.get("notes", [])
        for name in worker.info["cases"]:
            cases[name] = lambda name=name: worker.request({"case": name})

    def run(name: str) -> dict:
        call = cases[name]
        if name.startswith("peer "):
            return call()
        return timed(call)

    for name in cases:  # warm-up: tracing, allocation, first-call caches
        run(name)
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    load = {"before": tuple(round(x, 2) for x in os.getloadavg())}
    started = time.monotonic()
    for repeat in range(args.repeats):
        order = list(cases)
        if repeat % 2:  # alternate the order too, so no case always follows the same one
            order.reverse()
        for name in order:
            runs[name].append(run(name))
        print(f"repeat {repeat + 1}/{args.repeats}: {time.monotonic() - started:.0f} s", flush=True)
    load["after"] = tuple(round(x, 2) for x in os.getloadavg())
    if worker is not None:
        worker.close()
    results = {name: summary(r) for name, r in runs.items()}
    print()
    print(report(results, load, notes))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"load": load, "notes": notes, "runs": runs}, handle, indent=2)


if __name__ == "__main__":
    main()
