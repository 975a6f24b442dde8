"""Unit tests for components/audio_example_gen/audio_io.py, on real files written to tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from components.audio_example_gen import audio_io
from components.audio_example_gen.audio_io import AudioDecodeError, QualityLimits
from tests.corpus_factory import sparse_wav


def _sine(rate: int, seconds: float = 0.5, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _speech_like(rate: int = 22050, seconds: float = 2.0) -> np.ndarray:
    """Harmonics of a gliding pitch under a syllable-rate envelope, plus a little noise."""
    t = np.arange(int(rate * seconds)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2 / 4
    noise = np.random.default_rng(0).normal(0, 0.005, t.size)
    return (0.3 * voiced * envelope + noise).astype(np.float32)


def _truncate(path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def _reason(path) -> str:
    with pytest.raises(AudioDecodeError) as info:
        audio_io.decode_audio(str(path))
    assert str(path) in info.value.message  # the message names the file
    return info.value.reason_code


# 8-bit WAV is unsigned in the format; libsndfile calls it PCM_U8.
_WAV_SUBTYPES = {"PCM_U8": 1 / 64, "PCM_16": 1e-4, "PCM_24": 1e-6, "PCM_32": 1e-6, "FLOAT": 0.0}


@pytest.mark.parametrize("subtype", sorted(_WAV_SUBTYPES))
@pytest.mark.parametrize("rate", [16000, 22050, 44100])
def test_decode_wav_bit_depths_and_rates(tmp_path, subtype, rate):
    x = _sine(rate)
    path = tmp_path / f"{subtype}_{rate}.wav"
    sf.write(path, x, rate, subtype=subtype)
    audio = audio_io.decode_audio(str(path))
    assert audio.sample_rate == rate
    assert audio.source_channels == 1
    assert audio.source_subtype == subtype
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape == x.shape
    np.testing.assert_allclose(audio.samples, x, atol=_WAV_SUBTYPES[subtype])


def test_stereo_mixdown_is_channel_mean(tmp_path):
    left, right = _sine(16000, freq=300), _sine(16000, freq=700, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    audio = audio_io.decode_audio(str(path))
    assert audio.source_channels == 2
    np.testing.assert_allclose(audio.samples, (left + right) / 2, atol=1e-6)


def test_decode_flac(tmp_path):
    x = _sine(44100)
    path = tmp_path / "a.flac"
    sf.write(path, x, 44100, format="FLAC", subtype="PCM_16")
    audio = audio_io.decode_audio(str(path))
    assert (audio.sample_rate, audio.source_subtype) == (44100, "PCM_16")
    np.testing.assert_allclose(audio.samples, x, atol=1e-4)


def test_decode_ogg(tmp_path):
    x = _sine(22050, seconds=1.0)
    path = tmp_path / "a.ogg"
    sf.write(path, x, 22050, format="OGG", subtype="VORBIS")
    audio = audio_io.decode_audio(str(path))
    assert (audio.sample_rate, audio.source_subtype) == (22050, "VORBIS")
    assert audio.samples.shape == x.shape
    assert np.corrcoef(audio.samples, x)[0, 1] > 0.99  # lossy: same waveform, not same bits


def test_truncated_wav_is_unreadable(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _sine(22050, seconds=1.0), 22050, subtype="PCM_16")
    _truncate(path)
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_wav_cut_inside_header_is_unreadable(tmp_path):
    path = tmp_path / "header.wav"
    sf.write(path, _sine(22050), 22050, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_flac_is_unreadable(tmp_path, fraction):
    path = tmp_path / "cut.flac"
    sf.write(path, _speech_like(seconds=2.0), 22050, format="FLAC")
    _truncate(path, fraction)
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_flac_cut_at_frame_boundary_is_unreadable(tmp_path):
    path = tmp_path / "frames.flac"
    sf.write(path, _speech_like(seconds=2.0), 22050, format="FLAC")
    data = path.read_bytes()
    syncs = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xf8"]
    path.write_bytes(data[: syncs[len(syncs) // 2]])  # FLAC frames start with this sync code
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_truncated_ogg_is_unreadable(tmp_path):
    path = tmp_path / "cut.ogg"
    sf.write(path, _speech_like(seconds=2.0), 22050, format="OGG", subtype="VORBIS")
    _truncate(path)
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_ogg_cut_at_page_boundary_is_unreadable(tmp_path):
    # The hardest cut: every remaining page is whole, only the end-of-stream page is gone.
    path = tmp_path / "pages.ogg"
    sf.write(path, _speech_like(seconds=2.0), 22050, format="OGG", subtype="VORBIS")
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"OggS")])
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_garbage_bytes_are_unreadable(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_zero_byte_file_is_unreadable(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert _reason(path) == audio_io.UNREADABLE_AUDIO


def test_missing_file(tmp_path):
    assert _reason(tmp_path / "nope.wav") == audio_io.MISSING_FILE


def _classify(samples: np.ndarray, rate: int = 22050) -> str | None:
    return audio_io.check_quality(audio_io.describe(samples, rate), QualityLimits())


def test_quality_classification():
    limits = QualityLimits()
    rate = 22050
    square = np.sign(_sine(rate, seconds=1.0, freq=200)).astype(np.float32)
    square[square == 0] = 1.0
    assert _classify(np.zeros(rate, np.float32)) == audio_io.SILENT
    assert _classify(square) == audio_io.CLIPPED
    assert _classify(_speech_like(rate, seconds=0.2)) == audio_io.TOO_SHORT
    assert _classify(_speech_like(rate, seconds=limits.max_duration_s + 1)) == audio_io.TOO_LONG
    assert _classify(_speech_like(rate)) is None
    # Order: a short silent clip is too_short first.
    assert _classify(np.zeros(rate // 10, np.float32)) == audio_io.TOO_SHORT


def test_clipping_survives_a_pcm16_file(tmp_path):
    path = tmp_path / "square.wav"
    square = np.where(_sine(16000, seconds=1.0, freq=200) >= 0, 1.0, -1.0)
    sf.write(path, square, 16000, subtype="PCM_16")
    audio = audio_io.decode_audio(str(path))
    desc = audio_io.describe(audio.samples, audio.sample_rate)
    assert desc.clipped_fraction == 1.0
    assert audio_io.check_quality(desc, QualityLimits()) == audio_io.CLIPPED


def test_describe_values():
    rate = 16000
    x = _sine(rate, seconds=1.0, amp=0.5)
    desc = audio_io.describe(x, rate)
    assert desc.duration_s == pytest.approx(1.0)
    assert desc.rms_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert desc.peak == pytest.approx(0.5, abs=1e-4)
    assert desc.clipped_fraction == 0.0
    assert desc.source_sample_rate == rate
    assert audio_io.describe(np.zeros(10, np.float32), rate).rms_db == audio_io.SILENCE_FLOOR_DB
    assert audio_io.describe(np.zeros(0, np.float32), rate).duration_s == 0.0


@pytest.mark.parametrize("source_rate", [16000, 44100])
def test_resample_keeps_frequency_and_length(source_rate):
    seconds = 1.0
    x = _sine(source_rate, seconds=seconds, freq=1000.0, amp=0.8)
    y = audio_io.resample(x, source_rate, 22050)
    assert y.dtype == np.float32
    assert abs(len(y) - round(len(x) * 22050 / source_rate)) <= 1
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    bin_hz = 22050 / len(y)
    peak_hz = np.argmax(spectrum) * bin_hz
    assert abs(peak_hz - 1000.0) <= bin_hz


def test_resample_identity_when_rates_match():
    x = _sine(22050)
    np.testing.assert_array_equal(audio_io.resample(x, 22050, 22050), x)


def test_pcm16_round_trip():
    x = np.random.default_rng(2).uniform(-1, 1, 5000).astype(np.float32)
    data = audio_io.to_pcm16_bytes(x)
    assert len(data) == 2 * x.size
    back = audio_io.from_pcm16_bytes(data)
    assert np.max(np.abs(back - x)) < 1 / 32767
    # Little-endian int16, as the feature contract says.
    assert np.array_equal(np.frombuffer(data, "<i2"), np.rint(x * 32767).astype(np.int16))


def test_pcm16_overshoot_does_not_wrap():
    x = np.array([0.0, 0.6, 1.2, -1.2, -0.3], np.float32)
    pcm = np.frombuffer(audio_io.to_pcm16_bytes(x), "<i2")
    assert pcm[2] == 32767 and pcm[3] == -32767  # scaled to full scale, signs kept
    np.testing.assert_allclose(pcm / 32767, x / 1.2, atol=1 / 32767)


def test_quarantine_reasons_listed_once():
    reasons = audio_io.QUARANTINE_REASONS
    assert len(set(reasons)) == len(reasons) == 9
    assert {"missing_file", "unreadable_audio", "duplicate_id", "malformed_line"} <= set(reasons)


def test_a_dangling_symlink_is_a_missing_file_that_names_its_target(tmp_path):
    link = tmp_path / "a.wav"
    link.symlink_to(tmp_path / "gone" / "a.wav")
    with pytest.raises(AudioDecodeError) as info:
        audio_io.decode_audio(str(link), max_duration_s=20.0)
    assert info.value.reason_code == audio_io.MISSING_FILE
    assert "symbolic link" in info.value.message and "gone" in info.value.message


def test_a_dangling_symlink_does_not_break_the_input_fingerprint(tmp_path):
    """TFX's own fingerprint stats every file and raised `NotFoundError: ` (no message)."""
    from components.audio_example_gen import executor

    (tmp_path / "wavs").mkdir()
    sf.write(str(tmp_path / "wavs" / "ok.wav"), _sine(22050), 22050)
    (tmp_path / "wavs" / "bad.wav").symlink_to(tmp_path / "nowhere.wav")
    (tmp_path / "metadata.csv").write_text("ok|hello\nbad|world\n")
    config = '{"splits": [{"name": "corpus", "pattern": "metadata.csv"}]}'
    fingerprint = executor.audio_fingerprint(str(tmp_path), config)
    assert "num_files:2" in fingerprint and "unreadable:bad.wav" in fingerprint


def test_a_two_hour_file_is_too_long_from_its_header_without_being_decoded(tmp_path, monkeypatch):
    import resource

    path = tmp_path / "two-hours.wav"
    sparse_wav(path, 2 * 3600)  # 1.27 GB of 44.1 kHz stereo samples
    assert audio_io.declared_duration_s(str(path)) == pytest.approx(7200, abs=0.01)

    def must_not_read(*args, **kwargs):
        raise AssertionError("decoded or read whole, although the header says it is too long")

    monkeypatch.setattr(audio_io, "read_audio_bytes", must_not_read)
    monkeypatch.setattr(sf.SoundFile, "read", must_not_read)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(AudioDecodeError) as info:
        audio_io.decode_audio(str(path), max_duration_s=20.0)
    assert info.value.reason_code == audio_io.TOO_LONG
    assert "7200.000 s > 20.0 s" in info.value.message
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100


def test_a_file_within_the_limit_is_still_decoded_in_full(tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(str(path), _sine(22050, seconds=1.0), 22050, subtype="PCM_16")
    audio = audio_io.decode_audio(str(path), max_duration_s=20.0)
    assert audio.samples.size == 22050
