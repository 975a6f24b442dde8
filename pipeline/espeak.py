"""A small ctypes binding to libespeak-ng (from the `espeakng-loader` wheel): text in, int16 out,
through the public speak_lib.h API in synchronous mode (no audio device)."""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import threading
from collections.abc import Sequence

import numpy as np
from absl import logging

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT
_POS_CHARACTER = 1  # espeak_POSITION_TYPE
_ESPEAK_CHARS_UTF8 = 1  # espeak_Synth flags
_INITIALIZE_DONT_EXIT = 0x8000  # espeak_Initialize options: return an error instead of exit()
_EE_OK = 0  # espeak_ERROR
_ESPEAK_RATE = 1  # espeak_PARAMETER
_ESPEAK_PITCH = 3
_BUFFER_MS = 500  # audio handed to the callback per call; larger means fewer Python calls

DEFAULT_VOICE = "en-us"
DEFAULT_RATE_WPM = 175  # espeak-ng's own default speaking rate
DEFAULT_PITCH = 50  # 0-100, espeak-ng's default

# int (*t_espeak_callback)(short *wav, int numsamples, espeak_EVENT *events); the events are
# left opaque because only the samples are needed.
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

# The C library keeps global state and is not thread-safe: one engine per process, one lock.
_LOCK = threading.Lock()
_engine: _Engine | None = None


class _Engine:
    """The process-wide initialised library; every use happens under _LOCK."""

    def __init__(self) -> None:
        import espeakng_loader  # the wheel that bundles the library and its data

        library_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as error:
            raise RuntimeError(f"cannot load libespeak-ng from {library_path}: {error}") from error
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,  # text
            ctypes.c_size_t,  # size
            ctypes.c_uint,  # position
            ctypes.c_int,  # position_type
            ctypes.c_uint,  # end_position
            ctypes.c_uint,  # flags
            ctypes.POINTER(ctypes.c_uint),  # unique_identifier
            ctypes.c_void_p,  # user_data
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p

        sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise RuntimeError(
                f"espeak_Initialize failed (returned {sample_rate}) with data path {data_path}"
            )
        self.lib = lib
        self.sample_rate = sample_rate
        self.version = (lib.espeak_Info(None) or b"unknown").decode()
        self.voice: str | None = None
        self._chunks: list[bytes] = []
        # Keep a reference: ctypes frees the trampoline when the Python object goes away.
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)
        logging.info(
            "libespeak-ng %s initialised at %d Hz (%s)", self.version, sample_rate, library_path
        )

    def _on_samples(self, wav, numsamples: int, events) -> int:
        # Called from inside espeak_Synth on this thread; the final call may pass NULL.
        if numsamples > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # 0 = continue synthesis

    def _check(self, call: str, result: int) -> None:
        if result != _EE_OK:
            raise RuntimeError(f"{call} failed with espeak_ERROR {result}")

    def synthesize(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        if voice != self.voice:
            self._check(
                f"espeak_SetVoiceByName({voice!r})", self.lib.espeak_SetVoiceByName(voice.encode())
            )
            self.voice = voice
        self._check(
            f"espeak_SetParameter(espeakRATE, {rate})",
            self.lib.espeak_SetParameter(_ESPEAK_RATE, rate, 0),
        )
        self._check(
            f"espeak_SetParameter(espeakPITCH, {pitch})",
            self.lib.espeak_SetParameter(_ESPEAK_PITCH, pitch, 0),
        )
        data = text.encode("utf-8")
        buffer = ctypes.create_string_buffer(data)  # NUL-terminated copy
        self._chunks = []
        try:
            result = self.lib.espeak_Synth(
                buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None
            )
            self._check(f"espeak_Synth({text[:40]!r})", result)
            audio = b"".join(self._chunks)
        finally:
            self._chunks = []
        return np.frombuffer(audio, dtype="<i2").astype(np.int16)


def _get_engine() -> _Engine:
    global _engine
    with _LOCK:
        if _engine is None:
            _engine = _Engine()
        return _engine


class EspeakSynthesizer:
    """Synthesises text with one espeak-ng voice as 16-bit mono samples at `sample_rate`."""

    def __init__(
        self, voice: str = DEFAULT_VOICE, rate: int = DEFAULT_RATE_WPM, pitch: int = DEFAULT_PITCH
    ) -> None:
        self.voice = voice
        self.rate = rate
        self.pitch = pitch
        engine = _get_engine()
        self.sample_rate: int = engine.sample_rate
        self.library_version: str = engine.version

    def synthesize(
        self, text: str, rate: int | None = None, pitch: int | None = None
    ) -> np.ndarray:
        """The samples of `text` (int16, mono); `rate` (words/min) and `pitch` override the
        instance's for this call."""
        engine = _get_engine()
        with _LOCK:
            return engine.synthesize(
                text,
                self.voice,
                self.rate if rate is None else rate,
                self.pitch if pitch is None else pitch,
            )


# --- Reproducible synthesis -------------------------------------------------------------------
# libespeak-ng keeps state from one utterance to the next that no API call resets (the pitch
# flutter phase, automatic gain, cycle counters: static variables in wavegen.c), so the same
# text can come out a few samples different later in a process. A fresh child process per job
# makes the audio depend only on the calls made in that job.

_child_synthesizers: dict[tuple[str, int], EspeakSynthesizer] = {}


def _child_synthesizer(voice: str, pitch: int) -> EspeakSynthesizer:
    key = (voice, pitch)
    if key not in _child_synthesizers:
        _child_synthesizers[key] = EspeakSynthesizer(voice=voice, pitch=pitch)
    return _child_synthesizers[key]


def _child_info(voice: str, pitch: int) -> tuple[int, str]:
    synthesizer = _child_synthesizer(voice, pitch)
    return synthesizer.sample_rate, synthesizer.library_version


def _child_synthesize(
    voice: str, pitch: int, requests: Sequence[tuple[str, int | None]]
) -> list[np.ndarray]:
    synthesizer = _child_synthesizer(voice, pitch)
    return [synthesizer.synthesize(text, rate=rate) for text, rate in requests]


class IsolatedSynthesizer:
    """An EspeakSynthesizer in a freshly spawned process: same calls in, same samples out.

    Use as a context manager; `synthesize_batch` keeps the child's state between batches, so a
    job's output depends on its whole sequence of calls and nothing that ran before it.
    """

    def __init__(self, voice: str = DEFAULT_VOICE, pitch: int = DEFAULT_PITCH) -> None:
        self.voice = voice
        self.pitch = pitch
        # spawn, not fork: a forked child would inherit this process's library state.
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
        try:
            sample_rate, version = self._call(_child_info, voice, pitch)
        except BaseException:
            self.close()
            raise
        self.sample_rate: int = sample_rate
        self.library_version: str = version

    def _call(self, function, *args):
        try:
            return self._pool.submit(function, *args).result()
        except concurrent.futures.BrokenExecutor as error:
            raise RuntimeError(f"the espeak-ng synthesis process died: {error}") from error

    def synthesize_batch(self, requests: Sequence[tuple[str, int | None]]) -> list[np.ndarray]:
        """Samples for each (text, rate words/min or None for the default), in order."""
        return self._call(_child_synthesize, self.voice, self.pitch, list(requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> IsolatedSynthesizer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
