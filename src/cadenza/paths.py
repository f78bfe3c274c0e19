"""Where cadenza finds its shipped models (the repository's `models/` folder)."""

from __future__ import annotations

import os
from pathlib import Path

from cadenza.errors import InputError


def models_dir() -> Path:
    """`$CADENZA_MODELS`, else the `models/` folder of the checkout cadenza runs from."""
    env = os.environ.get("CADENZA_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def shipped_model(name: str, filename: str) -> Path:
    """Path of a file of a shipped model, with a clear error when it is missing."""
    path = models_dir() / name / filename
    if not path.exists():
        raise InputError(path, f"shipped model {name!r} not found (train one, or pass --model)")
    return path
