"""Audio decoding, resampling, descriptors and quality checks for AudioExampleGen.

numpy/soundfile/soxr on bytes read through TFX's filesystem layer, so the same DoFn reads
a local corpus and one on gs:// (or s3://, hdfs://) when it runs on a distributed runner. Every
read registers tensorflow-io's file systems first: a Beam worker is a process of its own.
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct

import numpy as np
import soundfile as sf
import soxr
from absl import logging
from tfx.dsl.io import fileio

from models.features import AUDIO, PCM16_SCALE
from models.filesystems import ensure_filesystems

# --- Quarantine reasons: every reason ingestion can give for setting a row aside ---
MISSING_FILE = "missing_file"
UNREADABLE_AUDIO = "unreadable_audio"
EMPTY_TEXT = "empty_text"
SILENT = "silent"
CLIPPED = "clipped"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
DUPLICATE_ID = "duplicate_id"
MALFORMED_LINE = "malformed_line"
QUARANTINE_REASONS = (
    MISSING_FILE,
    UNREADABLE_AUDIO,
    EMPTY_TEXT,
    SILENT,
    CLIPPED,
    TOO_SHORT,
    TOO_LONG,
    DUPLICATE_ID,
    MALFORMED_LINE,
)

TARGET_SAMPLE_RATE = AUDIO.sample_rate
CLIP_LEVEL = 0.999  # |x| at or above this counts as a clipped sample
SILENCE_FLOOR_DB = -120.0  # rms_db reported for digital silence instead of -inf

_WAV_MAGIC = (b"RIFF", b"RIFX", b"RF64")
_OGG_MAGIC = b"OggS"
_OGG_EOS_FLAG = 0x04
_UNKNOWN_SIZE = 0xFFFFFFFF  # streaming writers leave this in place of the real data size


class AudioDecodeError(Exception):
    """A clip that cannot be used; `reason_code` is one of QUARANTINE_REASONS."""

    def __init__(self, reason_code: str, message: str):
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


@dataclasses.dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono; integer formats land in [-1, 1), float ones as stored
    sample_rate: int
    source_channels: int
    source_subtype: str  # libsndfile subtype, e.g. "PCM_16", "FLOAT", "VORBIS"


@dataclasses.dataclass(frozen=True)
class AudioDescriptors:
    duration_s: float
    rms_db: float
    peak: float
    clipped_fraction: float
    source_sample_rate: int


@dataclasses.dataclass(frozen=True)
class QualityLimits:
    min_duration_s: float = 0.3
    max_duration_s: float = 20.0
    silence_rms_db: float = -60.0
    max_clipped_fraction: float = 0.001


def _check_regular_file(path: str) -> None:
    ensure_filesystems(path)
    if not fileio.exists(path):
        if "://" not in path and os.path.islink(path):
            raise AudioDecodeError(
                MISSING_FILE,
                f"{path}: a symbolic link to {os.readlink(path)!r}, which does not exist",
            )
        raise AudioDecodeError(MISSING_FILE, f"{path}: no such file")
    # A local FIFO or device would block a read; a URI names an object or nothing.
    if fileio.isdir(path) or ("://" not in path and not os.path.isfile(path)):
        raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: not a regular file")


def read_audio_bytes(path: str) -> bytes:
    """The whole file (clips are seconds long), from a local path or a filesystem URI."""
    _check_regular_file(path)
    with fileio.open(path, "rb") as handle:
        data = handle.read()
    if not data:
        raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: empty file (0 bytes)")
    return data


def declared_duration_s(path: str) -> float | None:
    """The duration the container's header declares, read without decoding a sample; None
    when there is no usable header (the full decode then says what is wrong)."""
    ensure_filesystems(path)
    try:
        with fileio.open(path, "rb") as handle, sf.SoundFile(handle) as f:
            frames, rate = f.frames, f.samplerate
    except Exception:  # noqa: BLE001 - any failure here is the decoder's to report
        return None
    if rate <= 0 or frames <= 0 or frames >= 2**62:  # libsndfile's "unknown length"
        return None
    return frames / float(rate)


def decode_audio(path: str, max_duration_s: float | None = None) -> DecodedAudio:
    """Reads any soundfile-supported file as float32 mono; raises AudioDecodeError.

    With `max_duration_s`, a file whose header declares more is refused as too_long before
    it is read: a two-hour recording costs a header read, not gigabytes of samples.
    """
    if max_duration_s is not None:
        _check_regular_file(path)
        declared = declared_duration_s(path)
        if declared is not None and declared > max_duration_s:
            raise AudioDecodeError(
                TOO_LONG,
                f"{path}: duration {declared:.3f} s > {max_duration_s} s "
                "(from the header; not decoded)",
            )
    data = read_audio_bytes(path)
    # libsndfile clamps a short WAV to what is there and reads a cut Ogg at a page boundary
    # as a shorter clip, so truncation is checked on the container before decoding.
    if data[:4] in _WAV_MAGIC:
        _check_wav_complete(path, data)
    elif data[:4] == _OGG_MAGIC:
        _check_ogg_complete(path, data)

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            declared_frames = f.frames
            data = f.read(dtype="float32", always_2d=True)
            sample_rate, channels, subtype = f.samplerate, f.channels, f.subtype
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, EOFError) as e:
        raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: cannot decode: {e}") from e

    # A FLAC cut at a frame boundary decodes without error but short of STREAMINFO's count.
    if declared_frames > 0 and len(data) != declared_frames:
        raise AudioDecodeError(
            UNREADABLE_AUDIO,
            f"{path}: truncated: decoded {len(data)} of {declared_frames} declared frames",
        )
    if not np.all(np.isfinite(data)):
        raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: contains NaN or infinite samples")
    samples = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
    return DecodedAudio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=int(sample_rate),
        source_channels=int(channels),
        source_subtype=str(subtype),
    )


def _check_wav_complete(path: str, data: bytes) -> None:
    """Raises if the RIFF `data` chunk declares more bytes than the file holds."""
    file_size = len(data)
    with io.BytesIO(data) as f:
        riff_id, _, wave_id = struct.unpack("<4sI4s", f.read(12).ljust(12, b"\0"))
        if wave_id != b"WAVE":
            return  # not RIFF/WAVE after all: leave it to libsndfile
        endian = ">" if riff_id == b"RIFX" else "<"
        ds64_data_size = None
        offset = 12
        while offset + 8 <= file_size:
            f.seek(offset)
            chunk_id, size = struct.unpack(endian + "4sI", f.read(8))
            if chunk_id == b"ds64" and size >= 16 and offset + 24 <= file_size:
                # RF64 keeps the real 64-bit sizes here: riff size, then data size.
                _, ds64_data_size = struct.unpack("<QQ", f.read(16))
            if chunk_id == b"data":
                if riff_id == b"RF64" and size == _UNKNOWN_SIZE and ds64_data_size is not None:
                    size = ds64_data_size
                elif size == _UNKNOWN_SIZE:
                    logging.info("%s: WAV data size left unset by a streaming writer", path)
                    return
                available = file_size - offset - 8
                if size > available:
                    raise AudioDecodeError(
                        UNREADABLE_AUDIO,
                        f"{path}: truncated WAV: data chunk declares {size} bytes, "
                        f"file holds {available}",
                    )
                return
            offset += 8 + size + (size & 1)  # chunks are padded to even length
    raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: truncated WAV: no data chunk found")


def _check_ogg_complete(path: str, data: bytes) -> None:
    """Walks the Ogg pages: each must be whole and the last must carry end-of-stream."""
    file_size = len(data)
    last_flags = None
    with io.BytesIO(data) as f:
        offset = 0
        while offset < file_size:
            f.seek(offset)
            header = f.read(27)
            if len(header) < 27 or header[:4] != _OGG_MAGIC:
                raise AudioDecodeError(
                    UNREADABLE_AUDIO, f"{path}: truncated or corrupt Ogg page at byte {offset}"
                )
            segment_table = f.read(header[26])
            page_end = offset + 27 + len(segment_table) + sum(segment_table)
            if len(segment_table) < header[26] or page_end > file_size:
                raise AudioDecodeError(
                    UNREADABLE_AUDIO, f"{path}: truncated Ogg: page at byte {offset} is cut off"
                )
            last_flags, offset = header[5], page_end
    if last_flags is None or not last_flags & _OGG_EOS_FLAG:
        raise AudioDecodeError(UNREADABLE_AUDIO, f"{path}: truncated Ogg: no end-of-stream page")


def resample(
    samples: np.ndarray, source_rate: int, target_rate: int = TARGET_SAMPLE_RATE
) -> np.ndarray:
    """Band-limited resampling to `target_rate` (float32); identity when the rates match."""
    samples = np.asarray(samples, dtype=np.float32)
    if int(source_rate) == int(target_rate) or samples.size == 0:
        return samples.copy()
    # "HQ" is 20-bit precision (~120 dB), already past the 16-bit PCM (~96 dB) the clips are
    # stored as; "VHQ" (28-bit) would cost more CPU for nothing that survives quantisation.
    return soxr.resample(samples, source_rate, target_rate, quality="HQ").astype(np.float32)


def describe(samples: np.ndarray, source_sample_rate: int) -> AudioDescriptors:
    """Descriptors of the decoded clip; pass source-rate samples, since resampling smooths clips."""
    if source_sample_rate <= 0:
        raise ValueError(f"source_sample_rate must be positive, got {source_sample_rate}")
    x = np.abs(np.asarray(samples, dtype=np.float64))
    if x.size == 0:
        return AudioDescriptors(0.0, SILENCE_FLOOR_DB, 0.0, 0.0, int(source_sample_rate))
    rms = float(np.sqrt(np.mean(x * x)))
    rms_db = max(SILENCE_FLOOR_DB, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_FLOOR_DB
    return AudioDescriptors(
        duration_s=x.size / float(source_sample_rate),
        rms_db=float(rms_db),
        peak=float(x.max()),
        clipped_fraction=float(np.mean(x >= CLIP_LEVEL)),
        source_sample_rate=int(source_sample_rate),
    )


def check_quality(desc: AudioDescriptors, limits: QualityLimits | None = None) -> str | None:
    """The first failed check among too_short, too_long, silent, clipped; None if it passes."""
    limits = limits or QualityLimits()
    if desc.duration_s < limits.min_duration_s:
        return TOO_SHORT
    if desc.duration_s > limits.max_duration_s:
        return TOO_LONG
    if desc.rms_db < limits.silence_rms_db:
        return SILENT
    if desc.clipped_fraction > limits.max_clipped_fraction:
        return CLIPPED
    return None


def to_pcm16_bytes(samples: np.ndarray) -> bytes:
    """Little-endian int16 PCM; scaled down if the peak exceeds 1 so that nothing wraps."""
    x = np.asarray(samples, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot encode NaN or infinite samples as PCM16")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 1.0:  # resampling can overshoot a full-scale input slightly
        x = x / peak
    pcm = np.clip(np.rint(x * PCM16_SCALE), -PCM16_SCALE, PCM16_SCALE)
    return pcm.astype("<i2").tobytes()


def from_pcm16_bytes(data: bytes) -> np.ndarray:
    """Inverse of to_pcm16_bytes: float32 samples in [-1, 1]."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(PCM16_SCALE)
