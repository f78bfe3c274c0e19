"""The training loop shared by every neural model, its checkpoints and batch sources."""

from cadenza.train.checkpoint import latest_checkpoint, load_checkpoint, load_model_files, save_checkpoint, save_model
from cadenza.train.data import ShuffledEpochs, Transposer, Windows, batch_generator
from cadenza.train.loop import ParamGroup, TrainConfig, TrainResult, lr_at, read_metrics, train

__all__ = [
    "ParamGroup",
    "ShuffledEpochs",
    "TrainConfig",
    "TrainResult",
    "Transposer",
    "Windows",
    "batch_generator",
    "latest_checkpoint",
    "load_checkpoint",
    "load_model_files",
    "lr_at",
    "read_metrics",
    "save_checkpoint",
    "save_model",
    "train",
]
