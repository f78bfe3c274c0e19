"""Music Transformer on the JSB Chorales benchmark (Huang et al. 2019, https://arxiv.org/abs/1809.04281).

The paper's protocol: the 16th-note four-voice grids of Boulanger-Lewandowski et al. (the Coconet split,
229 / 76 / 77 chorales), serialized soprano, alto, tenor, bass at every step; a decoder-only Transformer with
relative attention; note-wise negative log-likelihood in nats per token on the validation split. Published:
Music Transformer 0.335, vanilla Transformer 0.417.

Tokens: 0 = silent voice, p + 1 = MIDI pitch p (as `SATBGrid`), 129 = start of piece. Every token also has its
phase (the voice it belongs to: 0 soprano .. 3 bass; the start token has phase 3, it precedes a soprano like a
bass does), given to the model as a learned embedding: with relative attention alone nothing tells the model
which voice comes next. Training sees only the train split, transposed by a random interval per window.

    >>> model = MusicTransformer.from_pretrained()       # the shipped models/music-transformer-jsb
    >>> model.evaluate("valid")["nll"]
    >>> score = model.generate(steps=128, seed=1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from cadenza.core.score import Score
from cadenza.encodings.satb_grid import grid_to_score
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import corpus_nll, sample_cached
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.data import Transposer, Windows
from cadenza.train.loop import TrainConfig

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


def pitch_transposer(max_shift: int) -> Transposer:
    """Random transposition of the pitch tokens 1..128 (MIDI 0..127); silences and BOS stay."""
    return Transposer.contiguous(first_id=1, first_pitch=0, n_pitches=128, vocab_size=VOCAB, max_shift=max_shift)


def jsb_windows(pieces: list[list[int]], block_size: int, batch_size: int, max_shift: int = 5,
                seed: int = 0) -> Windows:  # fmt: skip
    """Random windows over the pieces joined into one stream (each begins with BOS), with their voice phases,
    each window transposed by a random interval in [-max_shift, max_shift] that keeps it in MIDI range."""
    stream = [t for p in pieces for t in p]
    phase = [ph for p in pieces for ph in token_phases(len(p))]
    return Windows(stream, block_size, batch_size, seed, aligned={"phase": phase},
                   transposer=pitch_transposer(max_shift) if max_shift else None)  # fmt: skip


def evaluate_jsb(model: GPT, split: str = "valid", stride: int | None = None) -> dict[str, float]:
    """Note-wise NLL (nats per token, token-weighted over the split's pieces) and the bits per token.

    Every piece is read whole from its BOS: pieces longer than the context (all of them, with the shipped
    256-token context) are scored with sliding windows, each token seeing at least `stride` tokens (default
    half the context) and at most the whole context."""
    return corpus_nll(model, jsb_sequences(split), stride, phase_of=token_phases)


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


class MusicTransformer(Pretrained, GPT):
    """The JSB Music Transformer: a `GPT` over SATB grid tokens with a voice phase, that generates chorales."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = GPTConfig
    shipped: ClassVar[str | None] = SHIPPED
    cfg: GPTConfig

    def generate(self, steps: int = 128, *, primer: list[list[int]] | None = None, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> Score:  # fmt: skip
        """A four-voice chorale of `steps` 16th-note steps (see `generate_chorale`)."""
        return generate_chorale(self, steps, primer=primer, temperature=temperature, top_k=top_k, top_p=top_p,
                                seed=seed)  # fmt: skip

    def evaluate(self, split: str = "valid", stride: int | None = None) -> dict[str, float]:
        """Note-wise NLL on a split of the benchmark (see `evaluate_jsb`)."""
        return evaluate_jsb(self, split, stride)


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
    tokens = piece_tokens(primer or [])
    W = model.cfg.block_size
    if len(tokens) > W:
        raise InputError("primer", f"{len(tokens)} tokens exceed the model's context of {W}")

    def no_bos(_: list[int], logits: torch.Tensor) -> torch.Tensor:
        logits[:, BOS] = float("-inf")  # the start token never continues a piece
        return logits

    tokens = sample_cached(model, tokens, max_new=steps * N_VOICES, generator=torch.Generator().manual_seed(seed),
                           temperature=temperature, top_k=top_k, top_p=top_p, constrain=no_bos,
                           phase_of=token_phases)  # fmt: skip
    score = grid_to_score(tokens_to_grid(tokens), title="Music Transformer chorale", source="music-transformer")
    return score.replace(tempo_bpm=80.0)


def train_jsb(
    cfg: JSBTrainConfig,
    train_cfg: TrainConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[MusicTransformer, dict[str, Any]]:
    """Train on the JSB train split with the shared loop; checkpoints (and resume) in `out_dir`/run.

    Returns the model and its figures (valid and test NLL). Evaluation during training uses the valid split
    with a coarse stride (fast); the final figures use the default stride (half the context).
    """
    from cadenza.nn.lm import lm_loss
    from cadenza.train.loop import train

    torch.manual_seed(train_cfg.seed)
    model = MusicTransformer(model_config(cfg))
    data = jsb_windows(jsb_sequences("train"), cfg.block_size, cfg.batch_size, cfg.max_shift, seed=train_cfg.seed)
    valid = jsb_sequences("valid")

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        return {"valid/nll": corpus_nll(m, valid, stride=cfg.block_size, phase_of=token_phases)["nll"]}

    result = train(
        model, data, lm_loss, train_cfg, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
        model_config={"model": asdict(model_config(cfg)), "jsb": asdict(cfg)}, progress=progress,
        tokens_per_batch=cfg.batch_size * cfg.block_size, new_segment=new_segment,
    )  # fmt: skip
    model.eval()
    model.extra = {"jsb": asdict(cfg), "segments": result.segments}
    figures = {
        "valid_nll": evaluate_jsb(model, "valid")["nll"],
        "test_nll": evaluate_jsb(model, "test")["nll"],
        "context_tokens": cfg.block_size,
        "eval_stride_tokens": cfg.block_size // 2,
        "train_seconds": result.seconds,
        "steps": result.step,
    }
    return model, figures


CARD = (
    """# Music Transformer, JSB Chorales ({position} attention)

Decoder-only Transformer (`cadenza.symbolic.transformer.MusicTransformer`, position="{position}") trained on the
229 train chorales of the JSB Chorales benchmark (16th-note grid, voices serialized S, A, T, B per step; a random
transposition of up to +-{max_shift} semitones per window). Never trained on the validation or test split, nor on
music21's chorales.

- Model: `{config}`
"""
    + TRAINING_BLOCK
    + """
NLL is note-wise, nats per token, over every token of every piece of the split (`cadenza music-transformer
eval`), with a context of {context} tokens: every validation piece is longer, so pieces are scored with sliding
windows of stride {stride} (each token sees {stride} to {context} tokens before it). Published anchors: Music
Transformer 0.335, vanilla Transformer 0.417 (Huang et al. 2019), measured with whole pieces in context.
"""
)
