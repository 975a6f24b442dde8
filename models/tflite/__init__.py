"""On-device export: the acoustic model and vocoder as builtin-ops TFLite, with parity checks."""

DEFAULT_MAX_TOKENS = 200  # symbols per acoustic call, end-of-sequence included
