"""The training loop shared by every neural model, its checkpoints and batch sources."""

from cadenza.train.checkpoint import latest_checkpoint, load_checkpoint, load_model_files, save_checkpoint, save_model
from cadenza.train.data import RandomWindows, ShuffledEpochs
from cadenza.train.loop import TrainConfig, TrainResult, lr_at, read_metrics, train

__all__ = [
    "RandomWindows",
    "ShuffledEpochs",
    "TrainConfig",
    "TrainResult",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_files",
    "lr_at",
    "read_metrics",
    "save_checkpoint",
    "save_model",
    "train",
]
