"""What the Pusher left in a push directory (TF Serving's <base>/<model name>/<version>/)."""

from __future__ import annotations

import os


def pushed_versions(push_dir: str, model_name: str) -> list[str]:
    """Every entry under <push_dir>/<model_name>, sorted; none before the first push."""
    base = os.path.join(push_dir, model_name)
    return sorted(os.listdir(base)) if os.path.isdir(base) else []
