"""Held-out speech evaluation of a trained Keras model, per utterance.

Teacher-forced mel L1 (tacotron2 on ground-truth frames, the non-autoregressive families on
the aligner's durations for the reference mel), then free-running synthesis: MCD with DTW,
length ratio, tacotron2's stopping and alignment health, and the real-time factor of
acoustic model + Griffin-Lim on this machine.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from models import features, registry
from models.metrics import length_ratio, masked_mel_l1, mel_cepstral_distortion
from models.vocoder import griffin_lim

FREE_RUNNING_FRAME_FACTOR = 3  # free-running may run to 3x the reference length


def _strings(tensor) -> list[str]:
    return [value.decode("utf-8") for value in np.asarray(tensor).tolist()]


def evaluate_model(
    model,
    dataset: tf.data.Dataset,
    mel_mean: np.ndarray,
    mel_std: np.ndarray,
    griffin_lim_iterations: int = 32,
    keep_arrays: int = 0,
    max_utterances: int | None = None,
) -> list[dict]:
    """One record per utterance of `dataset` (batches from data.make_dataset(keep_ids=True)).

    The first `keep_arrays` records also carry "arrays": the reference and synthesised
    log-mels, the synthesised audio and the teacher-forced alignment, for reports.
    """
    mel_mean = np.asarray(mel_mean, np.float32)
    mel_std = np.asarray(mel_std, np.float32)
    records = []
    for batch in dataset:
        ids, texts = _strings(batch.pop(features.ID)), _strings(batch.pop(features.TEXT))
        token_length = batch[registry.TOKEN_LENGTH].numpy()
        mel_length = batch[registry.MEL_LENGTH].numpy()
        target = batch[registry.MEL].numpy() * mel_std + mel_mean

        predicted, alignment = registry.teacher_forced_views(model(batch, training=False))
        predicted = np.asarray(predicted, np.float32) * mel_std + mel_mean
        l1 = masked_mel_l1(predicted, target, mel_length)

        started = time.perf_counter()
        synthesis = model.infer(
            batch[registry.TOKEN_IDS],
            batch[registry.TOKEN_LENGTH],
            max_frames=int(mel_length.max()) * FREE_RUNNING_FRAME_FACTOR,
        )
        synth_mel = np.asarray(synthesis["mel"], np.float32) * mel_std + mel_mean
        synth_length = np.asarray(synthesis["mel_length"])
        audio, audio_length = griffin_lim(synth_mel, synth_length, n_iter=griffin_lim_iterations)
        wall = time.perf_counter() - started
        audio_s = synth_length.sum() * features.AUDIO.hop_length / features.AUDIO.sample_rate
        ratios = length_ratio(synth_length, mel_length)

        for row, utterance_id in enumerate(ids):
            n = max(int(synth_length[row]), 1)
            record = {
                "id": utterance_id,
                "text": texts[row],
                "frames": int(mel_length[row]),
                "synthesized_frames": int(synth_length[row]),
                "mel_l1": float(l1[row]),
                "mcd_db": mel_cepstral_distortion(
                    target[row, : mel_length[row]], synth_mel[row, :n]
                ),
                "length_ratio": float(ratios[row]),
                # |log ratio|: too fast and too slow count alike (0.69 = off by a factor 2).
                "length_error": float(abs(np.log(max(ratios[row], 1e-3)))),
                # Batch wall time shared by audio length: the RTF of this utterance's batch.
                "rtf": float(wall / max(audio_s, 1e-6)),
            }
            if "stopped" in synthesis:
                from models.tacotron2 import alignment_score

                record["stopped"] = bool(np.asarray(synthesis["stopped"])[row])
                score = alignment_score(
                    np.asarray(alignment)[row : row + 1],
                    token_length[row : row + 1],
                    mel_length[row : row + 1],
                    reduction_factor=model.model_config.reduction_factor,
                )
                record.update({f"alignment_{k}": v for k, v in score.items()})
            if len(records) < keep_arrays:
                record["arrays"] = {
                    "reference_mel": target[row, : mel_length[row]],
                    "synthesized_mel": synth_mel[row, :n],
                    "audio": np.asarray(audio)[row, : int(audio_length[row])],
                    "alignment": np.asarray(alignment, np.float32)[row, :, : token_length[row]],
                }
            records.append(record)
            if max_utterances and len(records) >= max_utterances:
                return records
    return records


def summarize(records: list[dict]) -> dict:
    """Means over utterances; tacotron2 adds the share that never stopped."""
    if not records:
        raise ValueError("no utterances were evaluated")
    keys = [k for k, v in records[0].items() if isinstance(v, float) and k != "rtf"]
    summary = {k: float(np.mean([r[k] for r in records])) for k in keys}
    summary["utterances"] = len(records)
    # Real-time factor over the whole set: seconds of compute per second of audio produced.
    summary["rtf"] = float(np.median([r["rtf"] for r in records]))
    if "stopped" in records[0]:
        summary["non_stopping_share"] = float(np.mean([not r["stopped"] for r in records]))
    return summary
