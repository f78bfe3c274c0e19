"""A sound classifier trained here: which instrument plays (or which texture sounds) in a clip.

It stands in for the classifiers the field evaluates generated audio with (PaSST in audiocraft, VGGish and PANNs
in FAD), whose weights cannot be downloaded here. Its class probabilities give the KL metric of
`cadenza.evaluate.audio_metrics`; its penultimate layer is an embedding for FAD and KAD. It is trained on corpus
pieces rendered through several General MIDI SoundFonts and on procedural textures, and measured on pieces it
never heard, rendered through a SoundFont it never heard.

    >>> clf = SoundClassifier.from_pretrained()            # models/sound-classifier
    >>> clf.probabilities([clip.samples[0]])                # [1, n_classes]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.audio_tower import AudioTower, AudioTowerConfig, embed_clip
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.loop import TrainConfig

KIND = "sound-classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    classes: tuple[str, ...] = ()
    tower: AudioTowerConfig = field(default_factory=AudioTowerConfig)
    batch_size: int = 48
    dropout: float = 0.2


class SoundClassifier(Pretrained, nn.Module):
    """AudioTower -> dropout -> linear over the classes."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = ClassifierConfig
    shipped: ClassVar[str | None] = "sound-classifier"
    cfg: ClassifierConfig

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        if not cfg.classes:
            raise ValueError("a classifier needs its classes")
        self.cfg = cfg
        self.tower = AudioTower(cfg.tower)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.tower.width, len(cfg.classes))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel windows [B, n_mels, frames] -> logits [B, n_classes]."""
        return self.head(self.drop(self.tower(mel)))

    @torch.no_grad()
    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """The penultimate layer, averaged over windows: [N, width] (the FAD / KAD embedding)."""
        self.eval()
        return np.stack([embed_clip(self.tower, c, self.cfg.tower) for c in clips])

    @torch.no_grad()
    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        """Class probabilities per clip [N, n_classes] (the mean of the windows' logits, then a softmax)."""
        self.eval()
        logits = np.stack([embed_clip(self.tower, c, self.cfg.tower, self.head) for c in clips])
        return torch.softmax(torch.tensor(logits), -1).numpy()


def classifier_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(model(batch["mel"]), batch["label"])


def evaluate_classifier(model: SoundClassifier, clips: list[Any]) -> dict[str, Any]:
    """Accuracy over clips (whole clips, windows averaged), overall and per class."""
    probs = model.probabilities([c.audio for c in clips])
    pred = [model.cfg.classes[i] for i in probs.argmax(1)]
    truth = [c.label for c in clips]
    per_class = {}
    for name in sorted(set(truth)):
        hits = [p == t for p, t in zip(pred, truth, strict=True) if t == name]
        per_class[name] = round(float(np.mean(hits)), 3)
    acc = float(np.mean([p == t for p, t in zip(pred, truth, strict=True)]))
    return {"accuracy": acc, "clips": len(clips), "chance": 1 / len(model.cfg.classes), "per_class": per_class}


def train_classifier(
    train_folders: list[str | Path],
    test_folders: list[str | Path],
    out_dir: str | Path,
    cfg: ClassifierConfig,
    tc: TrainConfig,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[SoundClassifier, dict[str, Any]]:
    """Train on the train split of `train_folders`; validate on their valid split; measure on every held-out clip
    (valid and test) of `test_folders` (e.g. pieces rendered through a SoundFont the training never used)."""
    from dataclasses import replace

    from cadenza.audio.sound_data import WindowBatches, load_clips
    from cadenza.train.loop import train

    sr = cfg.tower.sample_rate
    train_clips = load_clips(train_folders, "train", sr, progress=progress)
    valid_clips = load_clips(train_folders, "valid", sr, progress=progress)
    classes = tuple(sorted({c.label for c in train_clips}))
    cfg = replace(cfg, classes=classes)
    torch.manual_seed(tc.seed)
    model = SoundClassifier(cfg)
    data = WindowBatches(train_clips, cfg.tower, cfg.batch_size, labels=list(classes), seed=tc.seed)
    known = [c for c in valid_clips if c.label in classes]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"valid/accuracy": evaluate_classifier(m, known[:64])["accuracy"]}  # type: ignore[arg-type]

    result = train(model, data, classifier_loss, tc, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
                   model_config={"model": _asdict(cfg)}, progress=progress, new_segment=new_segment)  # fmt: skip
    model.eval()
    model.extra = {"segments": result.segments}
    held = [c for c in load_clips(test_folders, ["valid", "test"], sr, progress=progress) if c.label in classes]
    figures: dict[str, Any] = {"valid_accuracy": evaluate_classifier(model, known)["accuracy"]}
    unseen = evaluate_classifier(model, held)
    figures.update(unseen_soundfont_accuracy=unseen["accuracy"], unseen_clips=unseen["clips"],
                   chance=unseen["chance"], per_class=unseen["per_class"], train_clips=len(train_clips),
                   train_seconds=round(result.seconds, 1), steps=result.step)  # fmt: skip
    return model, figures


def _asdict(cfg: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(cfg)


CARD = (
    """# Sound classifier `{name}` (cadenza)

Which instrument plays, or which texture sounds: {n_classes} classes ({classes}). A {n_blocks}-block 1-d CNN over
{n_mels}-band log-mel frames (the bands as channels), {window:g} s windows at {sample_rate} Hz, trained on {data};
measured on held-out pieces (their valid and test splits) rendered through a SoundFont it never heard ({test}).
Its class probabilities give cadenza's KL metric, its penultimate layer ({width} dimensions) an embedding for FAD
and KAD.

- Config: `{config}`
"""
    + TRAINING_BLOCK
)
