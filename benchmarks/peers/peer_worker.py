"""The peers' side of benchmarks/peers/compare.py: Coqui TTS and librosa, timed on 1 thread.

Runs in the peers' own virtualenv (benchmarks/peers/setup_env.sh), never in the project's:
it imports torch, TTS and librosa, which the project's lock does not hold. Protocol: JSON lines
on stdin/stdout. The first request is the setup (text, frame count, vocoder mel and settings);
the answer lists the cases. Then {"case": NAME} -> {"wall_s", "cpu_s", "audio_s"} for one
timed run, and {"quit": true} ends it. Every model has random weights from its default
config (no checkpoints can be downloaded here); durations are pinned so each speaks the
requested number of frames.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time

# The protocol owns the real stdout; anything the libraries print goes to stderr.
_PROTOCOL = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
logging.disable(logging.WARNING)  # Coqui logs each decoder run that hits max_decoder_steps

import librosa  # noqa: E402
from TTS.config.shared_configs import BaseAudioConfig  # noqa: E402
from TTS.tts.configs.fast_pitch_config import FastPitchConfig  # noqa: E402
from TTS.tts.configs.tacotron2_config import Tacotron2Config  # noqa: E402
from TTS.tts.configs.vits_config import VitsConfig  # noqa: E402
from TTS.tts.models.forward_tts import ForwardTTS  # noqa: E402
from TTS.tts.models.tacotron2 import Tacotron2  # noqa: E402
from TTS.tts.models.vits import Vits  # noqa: E402
from TTS.utils.audio import AudioProcessor  # noqa: E402

SEED = 0


def _characters(config):
    """Characters, not phonemes: no espeak/gruut in the loop; the text front end is
    negligible next to the models either way."""
    config.use_phonemes = False
    return config


def _ids(tokenizer, text: str) -> torch.Tensor:
    return torch.tensor([tokenizer.text_to_ids(text)], dtype=torch.long)


class Peers:
    def __init__(self, setup: dict):
        torch.manual_seed(SEED)
        np.random.seed(SEED)
        self.text = setup["text"]
        self.frames = int(setup["frames"])
        self.rate = int(setup["sample_rate"])
        self.hop = int(setup["hop_length"])
        self.iterations = int(setup["griffin_lim_iterations"])
        self.notes = [
            f"peers: coqui-tts {_version('coqui-tts')}, torch {torch.__version__}, librosa "
            f"{librosa.__version__}; RANDOM weights from default configs (no checkpoints "
            f"offline); torch {torch.get_num_threads()} thread, interop "
            f"{torch.get_num_interop_threads()}"
        ]
        # Vocoder input: the project's natural-log mel [F, n_mels], the same for every vocoder.
        self.log_mel = np.load(setup["mel"]).astype(np.float32)
        self.mel_to_linear = np.load(setup["mel_to_linear"]).astype(np.float32)  # [n_mels, bins]
        self.stft = {
            "n_fft": int(setup["n_fft"]),
            "hop_length": self.hop,
            "win_length": int(setup["win_length"]),
        }
        # Coqui's AudioProcessor set to the project's mel: natural log, no normalisation,
        # magnitude power 1, 0-8 kHz, the same FFT and hop, the same iteration count.
        self.ap = AudioProcessor(
            BaseAudioConfig(
                sample_rate=self.rate,
                num_mels=self.log_mel.shape[1],
                fft_size=self.stft["n_fft"],
                hop_length=self.hop,
                win_length=self.stft["win_length"],
                mel_fmin=0.0,
                mel_fmax=8000.0,
                log_func="np.log",
                spec_gain=1.0,
                signal_norm=False,
                power=1.0,
                preemphasis=0.0,
                griffin_lim_iters=self.iterations,
                do_trim_silence=False,
            )
        )
        self.cases = {
            "peer vocoder Coqui Griffin-Lim": self.coqui_gl,
            "peer vocoder librosa.griffinlim": self.librosa_gl,
        }
        self._fastpitch()
        self.cases["peer acoustic FastPitch"] = self.fastpitch_acoustic
        self.cases["peer text->wav FastPitch + Coqui GL"] = self.fastpitch_text_to_wav
        if setup.get("tacotron2", True):
            self._tacotron2()
            self.cases["peer acoustic Coqui Tacotron2"] = self.tacotron2_acoustic
        self._vits()
        self.cases["peer text->wav VITS"] = self.vits_text_to_wav

    # --- models -----------------------------------------------------------------------------

    def _fastpitch(self) -> None:
        self.fastpitch = ForwardTTS(_characters(FastPitchConfig())).eval()
        self.fp_tokenizer = self.fastpitch.tokenizer
        tokens = _ids(self.fp_tokenizer, self.text).shape[1]
        per_token = max(1, round(self.frames / tokens))
        # A constant duration: zero kernel, bias log(d + 1) (format_durations: exp(.) - 1).
        proj = self.fastpitch.duration_predictor.proj
        with torch.no_grad():
            proj.weight.zero_()
            proj.bias.fill_(math.log(per_token + 1.0))
        self.notes.append(
            f"FastPitch: default FastPitchConfig ({_params(self.fastpitch)} parameters), "
            f"{tokens} tokens x {per_token} frames"
        )

    def _tacotron2(self) -> None:
        config = _characters(Tacotron2Config())
        steps = math.ceil(self.frames / config.r)
        config.max_decoder_steps = steps
        self.tacotron2 = Tacotron2(config).eval()
        self.tacotron2.decoder.stop_threshold = math.inf  # never stops: runs max_decoder_steps
        self.tacotron2.decoder.max_decoder_steps = steps
        self.tt_ids = _ids(self.tacotron2.tokenizer, self.text)
        self.notes.append(
            f"Coqui Tacotron2: default Tacotron2Config ({_params(self.tacotron2)} parameters, "
            f"r={config.r}), {steps} decoder steps"
        )

    def _vits(self) -> None:
        self.vits = Vits(_characters(VitsConfig())).eval()
        self.vits_tokenizer = self.vits.tokenizer
        self.vits.inference_noise_scale_dp = 0.0  # deterministic durations to calibrate on
        ids = _ids(self.vits_tokenizer, self.text)
        # Length scale calibrated so its (stochastic, random-weight) predictor speaks `frames`.
        self.vits.length_scale = 1.0
        for _ in range(4):
            with torch.inference_mode():
                produced = float(self.vits.inference(ids)["durations"].sum())
            self.vits.length_scale *= self.frames / max(produced, 1.0)
        self.notes.append(
            f"VITS: default VitsConfig ({_params(self.vits)} parameters), length scale "
            f"{self.vits.length_scale:.3g} calibrated to the frame count"
        )

    # --- the timed cases: each returns seconds of audio (or mel) produced --------------------

    def coqui_gl(self) -> float:
        audio = self.ap.inv_melspectrogram(self.log_mel.T)
        return len(audio) / self.rate

    def librosa_gl(self) -> float:
        magnitude = np.maximum(np.exp(self.log_mel) @ self.mel_to_linear, 0.0).T  # [bins, F]
        audio = librosa.griffinlim(
            magnitude,
            n_iter=self.iterations,
            momentum=0.99,
            init="random",
            random_state=SEED,
            **self.stft,
        )
        return len(audio) / self.rate

    @torch.inference_mode()
    def fastpitch_acoustic(self) -> float:
        out = self.fastpitch.inference(_ids(self.fp_tokenizer, self.text))
        return out["model_outputs"].shape[1] * self.hop / self.rate

    @torch.inference_mode()
    def fastpitch_text_to_wav(self) -> float:
        mel = self.fastpitch.inference(_ids(self.fp_tokenizer, self.text))["model_outputs"][0]
        # Random weights give arbitrary levels; a log-mel range keeps Griffin-Lim finite.
        mel = np.clip(mel.numpy(), -11.5, 2.0)
        audio = self.ap.inv_melspectrogram(mel.T)
        return len(audio) / self.rate

    @torch.inference_mode()
    def tacotron2_acoustic(self) -> float:
        mel = self.tacotron2.inference(self.tt_ids)["model_outputs"]
        return mel.shape[1] * self.hop / self.rate

    @torch.inference_mode()
    def vits_text_to_wav(self) -> float:
        audio = self.vits.inference(_ids(self.vits_tokenizer, self.text))["model_outputs"]
        return audio.shape[-1] / self.rate

    def run(self, name: str) -> dict:
        call = self.cases[name]
        wall, cpu = time.perf_counter(), time.process_time()
        audio_s = call()
        return {
            "case": name,
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "audio_s": audio_s,
        }


def _params(model: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M"


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def main() -> int:
    peers = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request.get("quit"):
                answer = {"bye": True}
            elif request.get("setup"):
                peers = Peers(request)
                answer = {"cases": list(peers.cases), "notes": peers.notes}
            else:
                answer = peers.run(request["case"])
        except Exception as error:  # reported to compare.py, which stops
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), file=_PROTOCOL, flush=True)
        if request.get("quit"):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
