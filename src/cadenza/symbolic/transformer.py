"""Music Transformer on the JSB Chorales benchmark (Huang et al. 2019, https://arxiv.org/abs/1809.04281).

The paper's protocol: the 16th-note four-voice grids of Boulanger-Lewandowski et al. (the Coconet split,
229 / 76 / 77 chorales), serialized soprano, alto, tenor, bass at every step; a decoder-only Transformer with
relative attention; note-wise negative log-likelihood in nats per token on the validation split. Published:
Music Transformer 0.335, vanilla Transformer 0.417.

Tokens: 0 = silent voice, p + 1 = MIDI pitch p (as `SATBGrid`), 129 = start of piece. Every token also has its
phase (the voice it belongs to: 0 soprano .. 3 bass; the start token has phase 3, it precedes a soprano like a
bass does), given to the model as a learned embedding: with relative attention alone nothing tells the model
which voice comes next. Training sees only the train split, transposed by a random interval per window.

    >>> model, cfg = load_music_transformer()           # the shipped models/music-transformer-jsb
    >>> evaluate_jsb(model, "valid")["nll"]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cadenza.core.score import Score
from cadenza.encodings.satb_grid import grid_to_score
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT, GPTConfig, sliding_nll
from cadenza.sample import sample_next
from cadenza.train.data import _generator

KIND = "music-transformer-jsb"
N_VOICES = 4
BOS = 129
VOCAB = 130
SHIPPED = "music-transformer-jsb"


def piece_tokens(grid: list[list[int]]) -> list[int]:
    """[steps][s, a, t, b] MIDI pitches (-1 silent) -> [BOS, s0, a0, t0, b0, s1, ...]."""
    return [BOS] + [p + 1 for step in grid for p in step]


def token_phases(n: int) -> list[int]:
    """Phase of each token of a sequence that starts with BOS: 3, 0, 1, 2, 3, 0, ..."""
    return [(i - 1) % N_VOICES for i in range(n)]


def tokens_to_grid(tokens: list[int]) -> list[list[int]]:
    """The inverse of `piece_tokens` (a leading BOS is dropped; a trailing partial step too)."""
    body = [t for t in tokens if t != BOS]
    body = body[: len(body) - len(body) % N_VOICES]
    return [[t - 1 for t in body[i : i + N_VOICES]] for i in range(0, len(body), N_VOICES)]


def jsb_sequences(split: str) -> list[list[int]]:
    from cadenza.corpus import jsb_raw

    return [piece_tokens(grid) for grid in jsb_raw()[split]]


def transpose_tokens(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift pitch tokens (1..128) of each row of x [B, T] by shift [B] semitones; rests and BOS stay."""
    is_pitch = (x >= 1) & (x <= 128)
    return torch.where(is_pitch, (x + shift[:, None]).clamp(1, 128), x)


class JSBWindows:
    """Random windows of `block_size + 1` tokens over the train pieces joined into one stream (each piece
    begins with BOS), with their phases, transposed by a random interval in [-max_shift, max_shift]
    (within the pitch range). Deterministic in (seed, step, rank), as the training loop needs."""

    def __init__(self, pieces: list[list[int]], block_size: int, batch_size: int, max_shift: int = 5, seed: int = 0):
        stream, phase = [], []
        for p in pieces:
            stream += p
            phase += token_phases(len(p))
        if len(stream) <= block_size + 1:
            raise ValueError(f"{len(stream)} tokens are too few for windows of {block_size + 1}")
        self.tokens, self.phase = torch.tensor(stream), torch.tensor(phase)
        self.block_size, self.batch_size, self.max_shift, self.seed = block_size, batch_size, max_shift, seed
        pitches = self.tokens[(self.tokens >= 1) & (self.tokens <= 128)]
        self.lo, self.hi = int(pitches.min()), int(pitches.max())

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        g = _generator(self.seed, step, rank)
        starts = torch.randint(0, self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=g)
        idx = starts[:, None] + torch.arange(self.block_size + 1)
        win, ph = self.tokens[idx], self.phase[idx]
        if self.max_shift:
            lo = max(-self.max_shift, 1 - self.lo)
            hi = min(self.max_shift, 128 - self.hi)
            shift = torch.randint(lo, hi + 1, (self.batch_size,), generator=g)
            win = transpose_tokens(win, shift)
        return {"x": win[:, :-1], "y": win[:, 1:], "phase": ph[:, :-1]}


def sequence_nll(model: GPT, tokens: list[int], stride: int | None = None) -> tuple[float, int]:
    """Summed NLL (nats) of tokens[1:] of a JSB sequence (with its voice phases), and the count; sliding windows
    past the context (see `cadenza.nn.gpt.sliding_nll`)."""
    return sliding_nll(model, tokens, stride, phase=token_phases(len(tokens)))


def evaluate_jsb(model: GPT, split: str = "valid", stride: int | None = None) -> dict[str, float]:
    """Note-wise NLL (nats per token, token-weighted over the split's pieces) and the bits per token."""
    model.eval()
    total, count = 0.0, 0
    for seq in jsb_sequences(split):
        t, c = sequence_nll(model, seq, stride)
        total, count = total + t, count + c
    return {"nll": total / count, "bits": total / count / math.log(2), "tokens": float(count)}


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class JSBTrainConfig:
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 8
    n_embd: int = 128
    dropout: float = 0.1
    position: str = "relative"
    batch_size: int = 16
    max_shift: int = 5


def model_config(cfg: JSBTrainConfig) -> GPTConfig:
    return GPTConfig(
        vocab_size=VOCAB,
        block_size=cfg.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        dropout=cfg.dropout,
        position=cfg.position,
        period=N_VOICES,
    )


def load_music_transformer(path: str | Path | None = None) -> tuple[GPT, dict[str, Any]]:
    """A trained JSB Music Transformer from a model folder (default: the shipped one)."""
    from cadenza.paths import shipped_model
    from cadenza.train.checkpoint import load_model_files, load_weights

    folder = Path(path) if path else shipped_model(SHIPPED, "config.json").parent
    config, tensors = load_model_files(folder, kind=KIND)
    model = GPT(GPTConfig(**config["model"]))
    load_weights(model, tensors, folder)
    return model.eval(), config


# ------------------------------------------------------------------------------------------------ generation


@torch.no_grad()
def generate_chorale(
    model: GPT,
    steps: int = 128,
    *,
    primer: list[list[int]] | None = None,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
) -> Score:
    """Sample a four-voice chorale of `steps` 16th-note steps, continuing `primer` ([steps][s, a, t, b]) if given.

    Uses the KV cache; a context longer than the model's is continued from a sliding window (the cache is
    rebuilt from the last half context when full).
    """
    model.eval()
    g = torch.Generator().manual_seed(seed)
    tokens = piece_tokens(primer or [])
    n_primer = len(tokens)
    W = model.cfg.block_size
    if n_primer > W:
        raise InputError("primer", f"{n_primer} tokens exceed the model's context of {W}")
    target = n_primer + steps * N_VOICES
    caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    fed = window = 0  # tokens[window:fed] are in the cache
    while len(tokens) < target:
        if caches is None or len(tokens) - window > W:  # (re)start: a window of at most half the context
            window = 0 if len(tokens) <= W else len(tokens) - W // 2
            caches, fed = None, window
        x = torch.tensor(tokens[fed:])[None]
        ph = torch.tensor(token_phases(len(tokens))[fed:])[None]
        logits, caches = model(x, caches, phase=ph)
        fed = len(tokens)
        last = logits[:, -1].clone()
        last[:, BOS] = float("-inf")  # the start token never continues a piece
        tokens.append(int(sample_next(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)[0]))
    score = grid_to_score(tokens_to_grid(tokens), title="Music Transformer chorale", source="music-transformer")
    return score.replace(tempo_bpm=80.0)


def train_config_dict(cfg: JSBTrainConfig) -> dict[str, Any]:
    return asdict(cfg)


def train_jsb(
    cfg: JSBTrainConfig,
    train_cfg: Any,
    out_dir: str | Path,
    *,
    progress: bool = True,
) -> tuple[GPT, dict[str, Any]]:
    """Train on the JSB train split with the shared loop; checkpoints (and resume) in `out_dir`/run.

    Returns the model and its figures (valid and test NLL). Evaluation during training uses the valid split
    with a coarse stride (fast); the final figures use the default stride.
    """
    from cadenza.train.loop import train

    torch.manual_seed(train_cfg.seed)
    model = GPT(model_config(cfg))
    data = JSBWindows(jsb_sequences("train"), cfg.block_size, cfg.batch_size, cfg.max_shift, seed=train_cfg.seed)
    valid = jsb_sequences("valid")

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        assert isinstance(m, GPT)
        total = count = 0.0
        for seq in valid:
            t, c = sequence_nll(m, seq, stride=m.cfg.block_size)
            total, count = total + t, count + c
        return {"valid/nll": total / count}

    from cadenza.nn.gpt import lm_loss

    result = train(
        model,
        data,
        lm_loss,
        train_cfg,
        out_dir=Path(out_dir) / "run",
        eval_fn=eval_fn,
        model_config={"model": asdict(model_config(cfg)), "jsb": asdict(cfg)},
        progress=progress,
        tokens_per_batch=cfg.batch_size * cfg.block_size,
    )
    model.eval()
    figures = {
        "valid_nll": evaluate_jsb(model, "valid")["nll"],
        "test_nll": evaluate_jsb(model, "test")["nll"],
        "train_seconds": result.seconds,
        "steps": result.step,
    }
    return model, figures
