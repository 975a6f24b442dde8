"""Custom TFX components of the TTS pipeline, one package each."""

from components.artifacts import Quarantine, TFLiteBundle

__all__ = ["Quarantine", "TFLiteBundle"]
