"""Griffin-Lim: framing consistent with the front end, padding stays silent, levels kept."""

import numpy as np
import tensorflow as tf

from models.audio_frontend import log_mel_spectrogram
from models.features import AUDIO
from models.vocoder import griffin_lim

RATE = AUDIO.sample_rate


def _tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(
        np.float32
    )


def test_round_trip_keeps_length_level_and_spectrum():
    tone = _tone(1.0)
    mel = log_mel_spectrogram(tf.constant(tone[None]))
    frames = mel.shape[1]
    audio, length = griffin_lim(mel, tf.constant([frames]), n_iter=32)
    assert audio.shape == (1, frames * AUDIO.hop_length)
    assert int(length[0]) == frames * AUDIO.hop_length
    rms_in = np.sqrt(np.mean(tone**2))
    rms_out = float(tf.sqrt(tf.reduce_mean(audio[0, : len(tone)] ** 2)))
    assert abs(rms_out / rms_in - 1.0) < 0.15
    spectrum = np.abs(np.fft.rfft(audio[0].numpy()))
    peak_hz = np.argmax(spectrum) * RATE / audio.shape[1]
    # Mel bands near 440 Hz are ~40 Hz wide and the pseudo-inverse spreads energy across a
    # band, so the peak may move within half a band, not further.
    assert abs(peak_hz - 440.0) < 20.0
    # Where the signal has energy (within e^2 of the peak) the reconstruction's log-mel is
    # close, and the phase iterations are what makes it so (random phase: ~0.9).
    target = mel[0].numpy()
    loud = target > target.max() - 2.0

    def log_mel_error(n_iter):
        audio, _ = griffin_lim(mel, tf.constant([frames]), n_iter=n_iter)
        rebuilt = log_mel_spectrogram(audio)[0, :frames].numpy()
        return float(np.mean(np.abs(rebuilt[loud] - target[loud])))

    assert log_mel_error(32) < 0.25
    assert log_mel_error(32) < 0.5 * log_mel_error(0)


def test_padded_rows_are_silent_past_their_length():
    mel = log_mel_spectrogram(tf.constant(np.stack([_tone(0.5), _tone(0.5)])))
    frames = mel.shape[1]
    audio, length = griffin_lim(mel, tf.constant([frames, frames // 2]), n_iter=4)
    assert int(length[1]) == (frames // 2) * AUDIO.hop_length
    assert float(tf.reduce_max(tf.abs(audio[1, int(length[1]) :]))) == 0.0
    assert float(tf.reduce_max(tf.abs(audio[1, : int(length[1])]))) > 0.05


def test_runs_inside_a_function_with_unknown_shapes():
    fn = tf.function(
        lambda m, n: griffin_lim(m, n, n_iter=2),
        input_signature=[
            tf.TensorSpec([None, None, AUDIO.n_mels], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ],
    )
    mel = log_mel_spectrogram(tf.constant(_tone(0.3)[None]))
    audio, length = fn(mel, tf.constant([mel.shape[1]]))
    assert audio.shape[1] == mel.shape[1] * AUDIO.hop_length


def test_an_utterance_sounds_the_same_alone_and_in_a_padded_batch():
    short = log_mel_spectrogram(tf.constant(_tone(0.3)[None]))
    long = log_mel_spectrogram(tf.constant(_tone(0.6, freq=300.0)[None]))
    frames = short.shape[1]
    padded = tf.pad(short, [[0, 0], [0, long.shape[1] - frames], [0, 0]])
    alone, _ = griffin_lim(short, tf.constant([frames]), n_iter=8)
    batched, _ = griffin_lim(
        tf.concat([long, padded], 0), tf.constant([long.shape[1], frames]), n_iter=8
    )
    n = frames * AUDIO.hop_length
    # Same start phase per (frame, bin); only the edge, where the padded row's inverse STFT
    # sees more frames, leaks a little through the iterations (another start phase: ~150 %).
    difference = batched[1, :n].numpy() - alone[0, :n].numpy()
    relative = np.sqrt(np.mean(difference**2) / np.mean(alone[0, :n].numpy() ** 2))
    assert relative < 0.1
