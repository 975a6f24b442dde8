"""Keras layers shared by the acoustic models."""
