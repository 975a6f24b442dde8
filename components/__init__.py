"""Custom TFX components of the TTS pipeline, one package each."""

from components.artifacts import Quarantine

__all__ = ["Quarantine"]
