"""A Music Transformer on REMI event tokens: Bach chorales and Essen folk tunes, free or from a primer.

REMI (Huang & Yang 2020) writes music as events: Bar, Position (in 32nds of a beat), Program, Pitch, Duration,
with TimeSig and Tempo, in one stream for all parts (`cadenza.encodings.remi`, MidiTok underneath; velocities
are dropped: the corpora have none). Unlike the JSB grid, it holds any rhythm and any number of voices, so one
model learns both corpora. Each piece is

    BOS, STYLE, <REMI events of the piece>, EOS

where STYLE is one of two tokens added after MidiTok's vocabulary (`bach`, `essen`): the model learns which
corpus it continues and generation can ask for either. Chorale voices are written as four string programs
(violin, viola, cello, contrabass) so that they decode as four parts; Essen melodies as a flute.

The network is the project's GPT with relative attention (`cadenza.nn.gpt`, as in the JSB model); training
windows are transposed by a random interval, Pitch tokens shifted in id space.

    >>> model, config = load_remi_transformer()              # the shipped models/remi-transformer
    >>> score = generate_remi(model, style="essen", bars=16, seed=1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from cadenza.core.score import Score
from cadenza.encodings.base import EncodingError
from cadenza.encodings.remi import REMI
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT, GPTConfig, sliding_nll
from cadenza.sample import sample_next
from cadenza.train.data import _generator

KIND = "remi-transformer"
SHIPPED = "remi-transformer"
STYLES = ("bach", "essen")
STYLE_CORPUS = {"bach": "bach", "essen": "essen/erk"}
VOICE_PROGRAMS = (40, 41, 42, 43)  # soprano .. bass as violin, viola, cello, contrabass
MELODY_PROGRAM = 73  # flute


@functools.cache
def tokenizer() -> REMI:
    return REMI(velocities=False)


@functools.cache
def _vocab_facts() -> dict[str, Any]:
    vocab = tokenizer().vocab
    ids = {t: i for i, t in enumerate(vocab)}
    pitch_of = torch.full((len(vocab) + len(STYLES),), -1, dtype=torch.long)
    for t, i in ids.items():
        if t.startswith("Pitch_"):
            pitch_of[i] = int(t.split("_")[1])
    return {
        "base": len(vocab),
        "bos": ids["BOS_None"],
        "eos": ids["EOS_None"],
        "bar": ids["Bar_None"],
        "specials": [ids[t] for t in ("PAD_None", "BOS_None", "EOS_None", "MASK_None")],
        "pitch_of": pitch_of,
        "programs": {int(t.split("_")[1]): i for t, i in ids.items() if t.startswith("Program_")},
        "drums": [i for t, i in ids.items() if t.startswith("PitchDrum_")],
        "pitch_lo": int(pitch_of[pitch_of >= 0].min()),
        "pitch_hi": int(pitch_of.max()),
    }


def vocab_size() -> int:
    return int(_vocab_facts()["base"]) + len(STYLES)


def style_token(style: str) -> int:
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    return int(_vocab_facts()["base"]) + STYLES.index(style)


# ------------------------------------------------------------------------------------------------ pieces


def _shift_time(score: Score, delta: float) -> Score:
    parts = tuple(replace(p, notes=tuple(replace(n, onset=n.onset + delta) for n in p.notes)) for p in score.parts)
    return score.replace(parts=parts)


def prepare(score: Score, style: str) -> Score:
    """The score as the model sees it: programs by style, and a pickup moved to the end of a first bar so that
    REMI's Bar and Position events fall on the real metre."""
    if style == "bach" and len(score.parts) == 4:
        parts = tuple(replace(p, program=prog) for p, prog in zip(score.parts, VOICE_PROGRAMS, strict=True))
    elif style == "essen":
        parts = (replace(score.melody(), program=MELODY_PROGRAM),)
    else:
        parts = score.parts
    score = score.replace(parts=parts)
    if score.pickup > 1e-9:
        score = _shift_time(score, score.time_signature.bar_length - score.pickup).replace(pickup=0.0)
    return score


def head_bars(score: Score, n_bars: int) -> Score:
    """The first `n_bars` bars of a score (a pickup bar counts as one), notes cut at the end."""
    ends = [end for _, end in score.bars()]
    if not ends:
        return score
    cut = ends[min(n_bars, len(ends)) - 1]
    parts = tuple(
        replace(p, notes=tuple(replace(n, duration=min(n.duration, cut - n.onset)) for n in p.notes if n.onset < cut))
        for p in score.parts
    )
    return score.replace(parts=parts)


def piece_ids(score: Score, style: str, *, end: bool = True) -> list[int]:
    """BOS, STYLE, the REMI events of the prepared score, and EOS (unless `end` is False: a primer)."""
    facts = _vocab_facts()
    body = tokenizer().encode(prepare(score, style))
    return [facts["bos"], style_token(style), *body, *([facts["eos"]] if end else [])]


def corpus_pieces(style: str, split: str, *, limit: int | None = None) -> tuple[list[list[int]], int]:
    """The token sequences of a style's corpus split, and how many pieces could not be encoded."""
    from cadenza.corpus import load_corpus

    out, skipped = [], 0
    for score in load_corpus(STYLE_CORPUS[style], limit=limit).split(split):
        try:
            out.append(piece_ids(score, style))
        except EncodingError:
            skipped += 1
    return out, skipped


def decode_ids(ids: Sequence[int], *, title: str = "REMI Transformer") -> Score:
    """A Score from model ids: special and style tokens dropped, a leading silence made a pickup."""
    facts = _vocab_facts()
    body = [i for i in ids if i < facts["base"] and i not in facts["specials"]]
    score = tokenizer().decode(body).replace(title=title, source="remi-transformer")
    notes = score.notes
    if not notes:
        return score
    first, bar = notes[0].onset, score.time_signature.bar_length
    if first >= bar - 1e-9:  # whole empty bars: drop them
        score = _shift_time(score, -bar * math.floor(first / bar + 1e-9))
        first = score.notes[0].onset
    if first > 1e-9:
        score = _shift_time(score, -first).replace(pickup=bar - first)
    return score


# ------------------------------------------------------------------------------------------------ training


def transpose_ids(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift the Pitch tokens of each row of x [B, T] by shift [B] semitones (ids of pitches are contiguous)."""
    pitch_of = _vocab_facts()["pitch_of"]
    return torch.where(pitch_of[x] >= 0, x + shift[:, None], x)


class RemiWindows:
    """Random windows of `block_size + 1` tokens over the pieces joined into one stream, each transposed by a
    random interval in [-max_shift, max_shift] that keeps its pitches in the vocabulary. Deterministic in
    (seed, step, rank)."""

    def __init__(self, pieces: list[list[int]], block_size: int, batch_size: int, max_shift: int = 5, seed: int = 0):
        self.tokens = torch.tensor([t for p in pieces for t in p])
        if self.tokens.numel() <= block_size + 1:
            raise ValueError(f"{self.tokens.numel()} tokens are too few for windows of {block_size + 1}")
        self.block_size, self.batch_size, self.max_shift, self.seed = block_size, batch_size, max_shift, seed

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        g = _generator(self.seed, step, rank)
        starts = torch.randint(0, self.tokens.numel() - self.block_size - 1, (self.batch_size,), generator=g)
        win = self.tokens[starts[:, None] + torch.arange(self.block_size + 1)]
        if self.max_shift:
            facts = _vocab_facts()
            p = facts["pitch_of"][win]
            hi = torch.where(p >= 0, p, -1000).amax(1)
            lo = torch.where(p >= 0, p, 1000).amin(1)
            lo_s = (facts["pitch_lo"] - lo).clamp(min=-self.max_shift, max=0)
            hi_s = (facts["pitch_hi"] - hi).clamp(min=0, max=self.max_shift)
            u = torch.rand(self.batch_size, generator=g)
            shift = lo_s + (u * (hi_s - lo_s + 1)).long().clamp(max=hi_s - lo_s)
            win = transpose_ids(win, shift)
        return {"x": win[:, :-1], "y": win[:, 1:]}


@dataclass(frozen=True)
class RemiTrainConfig:
    block_size: int = 512
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    position: str = "relative"
    batch_size: int = 8
    max_shift: int = 5
    styles: tuple[str, ...] = STYLES


def model_config(cfg: RemiTrainConfig) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab_size(), block_size=cfg.block_size, n_layer=cfg.n_layer, n_head=cfg.n_head,
        n_embd=cfg.n_embd, dropout=cfg.dropout, position=cfg.position,
    )  # fmt: skip


def evaluate_remi(model: GPT, pieces: list[list[int]], stride: int | None = None) -> dict[str, float]:
    """NLL in nats per token over whole pieces (sliding windows past the context)."""
    model.eval()
    total = count = 0.0
    for seq in pieces:
        t, c = sliding_nll(model, seq, stride)
        total, count = total + t, count + c
    return {"nll": total / max(count, 1), "tokens": count}


def train_remi(
    cfg: RemiTrainConfig, train_cfg: Any, out_dir: str | Path, *, progress: bool = True, limit: int | None = None
) -> tuple[GPT, dict[str, Any]]:
    """Train on the train splits of the styles' corpora; figures: valid NLL per style and over both."""
    from cadenza.nn.gpt import lm_loss
    from cadenza.train.loop import train

    train_pieces: list[list[int]] = []
    valid: dict[str, list[list[int]]] = {}
    for style in cfg.styles:
        train_pieces += corpus_pieces(style, "train", limit=limit)[0]
        valid[style] = corpus_pieces(style, "valid", limit=limit)[0]
    torch.manual_seed(train_cfg.seed)
    model = GPT(model_config(cfg))
    data = RemiWindows(train_pieces, cfg.block_size, cfg.batch_size, cfg.max_shift, seed=train_cfg.seed)
    all_valid = [p for v in valid.values() for p in v]

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        assert isinstance(m, GPT)
        return {"valid/nll": evaluate_remi(m, all_valid, stride=m.cfg.block_size)["nll"]}

    result = train(
        model, data, lm_loss, train_cfg, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
        model_config={"model": asdict(model_config(cfg)), "remi": asdict(cfg)}, progress=progress,
        tokens_per_batch=cfg.batch_size * cfg.block_size,
    )  # fmt: skip
    model.eval()
    overall = evaluate_remi(model, all_valid)
    figures: dict[str, Any] = {"valid_nll": overall["nll"], "valid_tokens": int(overall["tokens"])}
    for style, pieces in valid.items():
        figures[f"valid_nll_{style}"] = evaluate_remi(model, pieces)["nll"]
    figures.update(train_tokens=int(data.tokens.numel()), train_seconds=result.seconds, steps=result.step)
    return model, figures


def load_remi_transformer(path: str | Path | None = None) -> tuple[GPT, dict[str, Any]]:
    """A trained REMI Transformer from a model folder (default: the shipped one)."""
    from cadenza.paths import shipped_model
    from cadenza.train.checkpoint import load_model_files, load_weights

    folder = Path(path) if path else shipped_model(SHIPPED, "config.json").parent
    config, tensors = load_model_files(folder, kind=KIND)
    model = GPT(GPTConfig(**config["model"]))
    load_weights(model, tensors, folder)
    return model.eval(), config


# ------------------------------------------------------------------------------------------------ generation


def guess_style(score: Score) -> str:
    return "bach" if len(score.parts) == 4 else "essen"


@torch.no_grad()
def generate_remi(
    model: GPT,
    *,
    style: str = "essen",
    primer: Score | None = None,
    bars: int = 16,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int = 0,
    max_tokens: int = 4096,
) -> Score:
    """Sample a piece of `bars` bars in a style, continuing `primer` (its bars count) if given.

    Stops at the model's end token or at the bar after the last one; uses the KV cache, and past the context a
    sliding window (the cache rebuilt from the last half context).

    Raises:
        InputError: the primer cannot be encoded (pitches out of range) or fills the context.
    """
    facts = _vocab_facts()
    model.eval()
    g = torch.Generator().manual_seed(seed)
    W = model.cfg.block_size
    if primer is not None:
        try:
            tokens = piece_ids(primer, style, end=False)
        except EncodingError as e:
            raise InputError(primer.source or "primer", f"cannot be a REMI primer: {e}") from None
        if len(tokens) > W - 16:
            raise InputError(primer.source or "primer", f"primer of {len(tokens)} tokens fills the model's context "
                             f"of {W}; give fewer bars (--primer-bars)")  # fmt: skip
    else:
        tokens = [facts["bos"], style_token(style)]
    n_bars = sum(t == facts["bar"] for t in tokens)
    allowed_programs = VOICE_PROGRAMS if style == "bach" else (MELODY_PROGRAM,)  # the style's instruments only
    other_programs = [i for prog, i in facts["programs"].items() if prog not in allowed_programs]
    banned = torch.tensor(facts["specials"] + [style_token(s) for s in STYLES] + other_programs + facts["drums"])
    is_pitch = facts["pitch_of"][: vocab_size()] >= 0
    program_ids = set(facts["programs"].values())
    caches: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    fed = window = 0
    n_start = len(tokens)
    while len(tokens) - n_start < max_tokens:
        if caches is None or len(tokens) - window > W:
            window = 0 if len(tokens) <= W else len(tokens) - W // 2
            caches, fed = None, window
        logits, caches = model(torch.tensor(tokens[fed:])[None], caches)
        fed = len(tokens)
        last = logits[:, -1].clone()
        last[:, banned] = float("-inf")
        # REMI's grammar with programs: a Pitch comes right after a Program, and only a Pitch does
        last[:, ~is_pitch if tokens[-1] in program_ids else is_pitch] = float("-inf")
        if n_bars >= 2 and tokens[-1] not in program_ids:  # a piece is at least two bars long
            last[:, facts["eos"]] = logits[:, -1, facts["eos"]]
        tok = int(sample_next(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)[0])
        if tok == facts["eos"] or (tok == facts["bar"] and n_bars >= bars):
            break
        n_bars += tok == facts["bar"]
        tokens.append(tok)
    title = f"REMI Transformer ({style})"
    score = decode_ids(tokens, title=title)
    tempo = 80.0 if style == "bach" else 110.0
    return score.replace(tempo_bpm=tempo, key=primer.key if primer is not None else None)
