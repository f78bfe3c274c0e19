"""LSTM melody model (the course's "Generating melodies with LSTM nets") and the shared LSTM language model.

Melodies are Essen folk songs on the 16th-note melody grid (`MelodyGrid`: a pitch where a note starts, "r" for
a rest, "_" while it holds, "/" between songs), transposed to C major / A minor.

Two presets, trained with the shared loop and compared at equal wall time (`benchmarks/lstm_melody.py`):
- `course`: the course's Keras model rebuilt in PyTorch: one-hot input, one LSTM of 256 units, dropout 0.2,
  a softmax over the symbols; 64-step windows, each predicting the one symbol after it; songs separated by 64
  "/" symbols; Adam at 1e-3, batch 64.
- `default`: learned embeddings, two LSTM layers, weight tying, every position of 128-step windows predicts
  its next symbol, and a validation split. Transposition augmentation is available (`max_shift`) but off:
  the melodies are already moved to C major / A minor, and in a first measured run (+-5 semitones) it made
  validation NLL worse (1.233 vs the course model's 1.146 at equal time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from cadenza.core.score import Key, Score, TimeSignature
from cadenza.encodings.base import EncodingError
from cadenza.encodings.melody_grid import SEP, VOCAB, MelodyGrid
from cadenza.encodings.transpose import to_c
from cadenza.errors import InputError
from cadenza.nn.lm import lm_loss
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.sample import sample_next
from cadenza.train.data import Transposer, Windows
from cadenza.train.loop import TrainConfig

MELODY_KIND = "lstm-melody"
FIRST_PITCH = VOCAB.index("0")  # ids FIRST_PITCH + p are MIDI pitch p
SEP_ID = VOCAB.index(SEP)


# ------------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class LSTMConfig:
    vocab_size: int = len(VOCAB)
    n_embd: int = 128  # 0: one-hot input (the course model)
    hidden: int = 256
    n_layer: int = 2
    dropout: float = 0.2
    tie_weights: bool = True


class LSTMLM(nn.Module):
    """Token embedding (or one-hot), stacked LSTM, dropout, a linear head (tied to the embedding if asked)."""

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d_in = cfg.n_embd or cfg.vocab_size
        self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd) if cfg.n_embd else None
        self.lstm = nn.LSTM(d_in, cfg.hidden, cfg.n_layer, batch_first=True, dropout=cfg.dropout * (cfg.n_layer > 1))
        self.drop = nn.Dropout(cfg.dropout)
        tie = cfg.tie_weights and self.embed is not None
        self.proj = nn.Linear(cfg.hidden, cfg.n_embd) if tie and cfg.n_embd != cfg.hidden else None
        self.head = nn.Linear(cfg.n_embd if tie else cfg.hidden, cfg.vocab_size)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=0.05)  # small: with tying these are also the output weights
        if tie and self.embed is not None:
            self.head.weight = self.embed.weight

    def forward(
        self, idx: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits [B, T, V] for ids [B, T], and the LSTM state to continue from."""
        x = self.embed(idx) if self.embed is not None else F.one_hot(idx, self.cfg.vocab_size).float()
        h, state = self.lstm(x, state)
        h = self.drop(h)
        if self.proj is not None:
            h = self.proj(h)
        return self.head(h), state


def last_position_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The course's many-to-one training: only the symbol after the window is predicted."""
    logits, _ = model(batch["x"])
    return F.cross_entropy(logits[:, -1], batch["y"][:, -1])


# ------------------------------------------------------------------------------------------------ melody data


@dataclass(frozen=True)
class MelodyPreset:
    """How a melody LSTM is trained: the model, the windows, the loss, the augmentation."""

    name: str
    model: LSTMConfig
    window: int
    batch_size: int
    lr: float
    song_delimiters: int  # "/" symbols between songs in the stream, and before a song at evaluation
    all_positions: bool  # False: the course's many-to-one loss
    max_shift: int  # random transposition, +- semitones (0: none)


PRESETS = {
    "course": MelodyPreset(
        "course",
        LSTMConfig(n_embd=0, hidden=256, n_layer=1, dropout=0.2, tie_weights=False),
        window=64,
        batch_size=64,
        lr=1e-3,
        song_delimiters=64,
        all_positions=False,
        max_shift=0,
    ),  # fmt: skip
    "default": MelodyPreset(
        "default",
        LSTMConfig(n_embd=256, hidden=256, n_layer=2, dropout=0.2, tie_weights=True),
        window=128,
        batch_size=32,
        lr=3e-3,
        song_delimiters=1,
        all_positions=True,
        max_shift=0,
    ),  # fmt: skip
}


def melody_ids(scores: Sequence[Score]) -> tuple[list[list[int]], int]:
    """Each score's melody in C major / A minor as grid ids; scores off the 16th grid are skipped (counted)."""
    grid = MelodyGrid()
    out, skipped = [], 0
    for s in scores:
        try:
            out.append(grid.encode(to_c(s)[0]))
        except EncodingError:
            skipped += 1
    return out, skipped


def melody_windows(songs: list[list[int]], preset: MelodyPreset, seed: int = 0) -> Windows:
    """Random windows over the songs joined by `song_delimiters` "/" symbols, optionally transposed."""
    stream: list[int] = []
    for song in songs:
        stream += [SEP_ID] * preset.song_delimiters + song
    stream += [SEP_ID] * preset.song_delimiters
    transposer = Transposer.contiguous(FIRST_PITCH, 0, 128, len(VOCAB), preset.max_shift) if preset.max_shift else None
    return Windows(stream, preset.window, preset.batch_size, seed, transposer=transposer)


@torch.no_grad()
def evaluate_melodies(model: LSTMLM, songs: list[list[int]], song_delimiters: int) -> dict[str, float]:
    """NLL (nats per symbol) and next-symbol accuracy over whole songs and their closing "/", each song
    read from its start after `song_delimiters` "/" symbols (as the preset's training stream has them)."""
    model.eval()
    total = correct = count = 0.0
    for song in songs:
        seq = torch.tensor([SEP_ID] * song_delimiters + song + [SEP_ID])[None]
        logits, _ = model(seq[:, :-1])
        logits, y = logits[0, song_delimiters - 1 :], seq[0, song_delimiters:]
        total += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += float((logits.argmax(-1) == y).sum())
        count += len(y)
    return {"nll": total / count, "accuracy": correct / count, "bits": total / count / math.log(2)}


def train_melody_lstm(
    preset: MelodyPreset,
    train_cfg: TrainConfig,
    train_songs: list[list[int]],
    valid_songs: list[list[int]],
    out_dir: str | Path,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[MelodyLSTM, dict[str, Any]]:
    """Train a melody LSTM with the shared loop (resumable, in `out_dir`/run); returns it and its figures."""
    from cadenza.train.loop import train

    torch.manual_seed(train_cfg.seed)
    model = MelodyLSTM(preset)
    data = melody_windows(train_songs, preset, seed=train_cfg.seed)
    loss = lm_loss if preset.all_positions else last_position_loss
    valid_subset = valid_songs[:60]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        assert isinstance(m, LSTMLM)
        r = evaluate_melodies(m, valid_subset, preset.song_delimiters)
        return {"valid/nll": r["nll"], "valid/accuracy": r["accuracy"]}

    result = train(
        model, data, loss, train_cfg, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
        model_config={"model": asdict(preset.model), "preset": asdict(preset)}, progress=progress,
        tokens_per_batch=preset.batch_size * preset.window, new_segment=new_segment,
    )  # fmt: skip
    model.extra = {"segments": result.segments}
    figures = evaluate_melodies(model, valid_songs, preset.song_delimiters)
    figures = {f"valid_{k}": v for k, v in figures.items()} | {"train_seconds": result.seconds, "steps": result.step}
    return model, figures


def preset_from_dict(d: dict[str, Any]) -> MelodyPreset:
    d = dict(d)
    d["model"] = LSTMConfig(**d["model"])
    return MelodyPreset(**d)


class MelodyLSTM(Pretrained, LSTMLM):
    """A melody LSTM with the preset it was trained with; generates melodies."""

    kind: ClassVar[str] = MELODY_KIND
    config_cls: ClassVar[type] = MelodyPreset
    shipped: ClassVar[str | None] = "lstm-essen"

    def __init__(self, preset: MelodyPreset) -> None:
        super().__init__(preset.model)
        self.preset = preset

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MelodyLSTM:
        return cls(preset_from_dict(config["preset"]))

    def config_dict(self) -> dict[str, Any]:
        return {"model": asdict(self.preset.model), "preset": asdict(self.preset), **getattr(self, "extra", {})}

    def generate(self, *, primer: Score | None = None, max_steps: int = 256, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0, tempo_bpm: float = 100.0) -> Score:  # fmt: skip
        """One melody (see `generate_melody`)."""
        return generate_melody(self, self.preset, primer=primer, max_steps=max_steps, temperature=temperature,
                               top_k=top_k, top_p=top_p, seed=seed, tempo_bpm=tempo_bpm)  # fmt: skip


CARD = (
    """# LSTM melody model ({preset} preset), {corpus}

An LSTM over the 16th-note melody grid (pitch / "r" / "_" / "/"), melodies transposed to C major or A minor,
trained on the train split of `{corpus}` ({n_train} melodies; {n_valid} in the valid split).

- Preset: `{config}`
"""
    + TRAINING_BLOCK
    + """
NLL in nats per grid symbol over whole validation melodies and their closing "/"; accuracy = the most
probable symbol is the true one.
"""
)


@torch.no_grad()
def generate_melody(
    model: LSTMLM,
    preset: MelodyPreset,
    *,
    primer: Score | None = None,
    max_steps: int = 256,
    min_steps: int = 64,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    tempo_bpm: float = 100.0,
) -> Score:
    """Sample one melody (until "/" or `max_steps` 16th steps; "/" is not allowed before `min_steps` generated
    steps, so a song does not stop after a bar). A primer is moved to C major / A minor, continued,
    and the result moved back to the primer's key; without one the melody is in C major or A minor.

    Raises:
        InputError: a primer the grid cannot hold (off-grid rhythm, chords) or out of pitch range after moving.
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    prefix = [SEP_ID] * preset.song_delimiters
    shift = 0
    ts = TimeSignature()
    if primer is not None:
        name = primer.source or primer.title or "primer"
        try:
            moved, shift = to_c(primer)
            ids = MelodyGrid().encode(moved)
        except EncodingError as e:
            raise InputError(name, f"cannot be a melody primer: {e}") from None
        prefix += ids
        ts = primer.time_signature or ts
    out = list(prefix)
    logits, state = model(torch.tensor(out)[None])
    for _ in range(max_steps):
        last = logits[:, -1].clone()
        if len(out) - len(prefix) < min_steps:
            last[:, SEP_ID] = float("-inf")
        if len(out) == len(prefix):  # a song never starts with a hold
            last[:, VOCAB.index("_")] = float("-inf")
        tok = int(sample_next(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)[0])
        if tok == SEP_ID:
            break
        out.append(tok)
        logits, state = model(torch.tensor([[tok]]), state)
    melody = out[preset.song_delimiters :]
    score = MelodyGrid().decode(melody, time_signature=ts)
    key = Key(0, "major")
    from cadenza.evaluate.key import estimate_key

    if score.parts[0].notes:
        key = estimate_key(score)
    score = score.replace(key=key, tempo_bpm=tempo_bpm, title="LSTM melody", source="lstm")
    return score.transpose(-shift) if shift else score
