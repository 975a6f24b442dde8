"""Held-out speech evaluation of a trained Keras model, per utterance.

Teacher-forced mel L1 (tacotron2 on ground-truth frames, the non-autoregressive families on
the aligner's durations for the reference mel), then free-running synthesis: MCD with DTW,
length ratio, tacotron2's stopping and alignment health, and the real-time factor of
acoustic model + Griffin-Lim on this machine. Set-level: whether the speech carries its own
text's content (models/content.py, models/intelligibility.py), beside the reference through
the same vocoder (the ceiling) and the same figures against other utterances' text (chance).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from models import content, features, intelligibility, registry
from models.audio_frontend import log_mel_spectrogram
from models.metrics import length_ratio, masked_mel_l1, mel_cepstral_distortion
from models.vocoder import griffin_lim

FREE_RUNNING_FRAME_FACTOR = 3  # free-running may run to 3x the reference length
# The content figures cover the first utterances of the eval split: each costs a Griffin-Lim of
# its reference, two recogniser decodes and 3 x (1 + MISMATCHED_PARTNERS) DTWs (~1.5 s on one
# core for 4.5 s of speech), and its mels stay in memory until summarize().
CONTENT_UTTERANCES = 32


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
    content_utterances: int = CONTENT_UTTERANCES,
    recognizer: intelligibility.PhoneRecognizer | None = None,
) -> list[dict]:
    """One record per utterance of `dataset` (batches from data.make_dataset(keep_ids=True)).

    The first `keep_arrays` records also carry "arrays": the reference and synthesised
    log-mels, the synthesised audio, the reference through the same vocoder and the
    teacher-forced alignment, for reports. The first `content_utterances` carry "content"
    (reference, synthesised and ceiling log-mels) for summarize(); with a `recognizer`, they
    also carry the phones heard in the voice and in the ceiling, and the text's phones.
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
        wanted = max(content_utterances, keep_arrays)
        ceiling_audio, ceiling_mel = None, None
        if len(records) < wanted:
            # The reference through the same vocoder: as well as this voice could sound.
            ceiling_audio, _ = griffin_lim(target, mel_length, n_iter=griffin_lim_iterations)
            ceiling_audio = np.asarray(ceiling_audio)
            ceiling_mel = log_mel_spectrogram(ceiling_audio).numpy()

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
            voice_audio = np.asarray(audio)[row, : int(audio_length[row])]
            reference_samples = int(mel_length[row]) * features.AUDIO.hop_length
            if len(records) < content_utterances:
                record["content"] = {
                    "reference_mel": target[row, : mel_length[row]],
                    "synthesized_mel": synth_mel[row, :n],
                    "ceiling_mel": ceiling_mel[row, : mel_length[row]],
                }
                if recognizer is not None:
                    record.update(
                        _recognized(
                            recognizer,
                            texts[row],
                            voice_audio,
                            ceiling_audio[row, :reference_samples],
                        )
                    )
            if len(records) < keep_arrays:
                record["arrays"] = {
                    "reference_mel": target[row, : mel_length[row]],
                    "synthesized_mel": synth_mel[row, :n],
                    "audio": voice_audio,
                    "reference_audio": ceiling_audio[row, :reference_samples],
                    "alignment": np.asarray(alignment, np.float32)[row, :, : token_length[row]],
                }
            records.append(record)
            if max_utterances and len(records) >= max_utterances:
                return records
    return records


def _recognized(recognizer, text: str, voice_audio, ceiling_audio) -> dict:
    """The phones the recogniser hears in the voice and in the ceiling, and the text's phones."""
    started = time.perf_counter()
    expected, words, unknown = intelligibility.text_phones(text)
    voice = recognizer.phones(voice_audio, features.AUDIO.sample_rate)
    ceiling = recognizer.phones(ceiling_audio, features.AUDIO.sample_rate)
    return {
        "reference_phones": " ".join(expected),
        "hypothesis": " ".join(voice),
        "ceiling_hypothesis": " ".join(ceiling),
        "unknown_words": unknown,
        "words": words,
        "recognizer_s": time.perf_counter() - started,
    }


def _content_summary(records: list[dict]) -> dict:
    """Set-level content figures of the voice, the ceiling and the references themselves."""
    started = time.perf_counter()
    arrays = [r["content"] for r in records]
    references = [a["reference_mel"] for a in arrays]
    voice = content.content_scores(references, [a["synthesized_mel"] for a in arrays])
    ceiling = content.content_scores(references, [a["ceiling_mel"] for a in arrays])
    summary = dict(voice)
    summary.update({f"{k}_ceiling": v for k, v in ceiling.items() if k in content.FIGURES})
    # References against themselves: matched MCD 0, so the margin is the mismatched MCD.
    summary["content_margin_db_reference"] = content.mismatched_mcd_db(references, references)
    summary["content_utterances"] = len(records)
    summary["content_s"] = time.perf_counter() - started
    return summary


def _intelligibility_summary(records: list[dict]) -> dict:
    """Phone error rates of the voice, the ceiling and chance, and the share of the gap from
    chance to ceiling the voice closes; absent when no recogniser ran."""
    heard = [r for r in records if "hypothesis" in r]
    if len(heard) < 2:
        return {}
    expected = [r["reference_phones"].split() for r in heard]
    voice = [r["hypothesis"].split() for r in heard]
    ceiling = [r["ceiling_hypothesis"].split() for r in heard]
    summary = {
        "phone_error_rate": intelligibility.phone_error_rate(voice, expected),
        "phone_error_rate_ceiling": intelligibility.phone_error_rate(ceiling, expected),
        "phone_error_rate_chance": intelligibility.chance_phone_error_rate(voice, expected),
        "unknown_word_share": sum(r["unknown_words"] for r in heard)
        / max(sum(r["words"] for r in heard), 1),
        "recognizer_s": float(np.mean([r["recognizer_s"] for r in heard])),
    }
    relative = intelligibility.relative_intelligibility(
        summary["phone_error_rate"],
        summary["phone_error_rate_chance"],
        summary["phone_error_rate_ceiling"],
    )
    if relative is not None:
        summary["intelligibility"] = relative
    return summary


def summarize(records: list[dict]) -> dict:
    """Means over utterances; tacotron2 adds the share that never stopped; the records that
    carry content add the set-level content and intelligibility figures."""
    if not records:
        raise ValueError("no utterances were evaluated")
    keys = [
        k
        for k, v in records[0].items()
        if isinstance(v, float) and k not in ("rtf", "recognizer_s")
    ]
    summary = {k: float(np.mean([r[k] for r in records])) for k in keys}
    summary["utterances"] = len(records)
    # Real-time factor: the median over utterances of seconds of compute per second of audio
    # produced (each utterance carries its batch's figure).
    summary["rtf"] = float(np.median([r["rtf"] for r in records]))
    if "stopped" in records[0]:
        summary["non_stopping_share"] = float(np.mean([not r["stopped"] for r in records]))
    with_content = [r for r in records if "content" in r]
    if len(with_content) >= 2:  # chance needs another utterance to mismatch
        summary.update(_content_summary(with_content))
        summary.update(_intelligibility_summary(with_content))
    return summary
