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

    >>> model = RemiTransformer.from_pretrained()             # the shipped models/remi-transformer
    >>> score = model.generate(style="essen", bars=16, seed=1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import torch

from cadenza.core.score import Score
from cadenza.encodings.base import EncodingError
from cadenza.encodings.remi import REMI
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT, GPTConfig
from cadenza.nn.lm import corpus_nll, sample_cached
from cadenza.pretrained import TRAINING_BLOCK, Pretrained
from cadenza.train.data import Transposer, Windows
from cadenza.train.loop import TrainConfig

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
        "kinds": {
            kind: torch.tensor([t.split("_")[0] == kind for t in vocab] + [False] * len(STYLES))
            for kind in ("Position", "Program", "Pitch", "Duration", "Tempo")
        },  # fmt: skip
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


def pitch_transposer(max_shift: int) -> Transposer:
    """Random transposition of REMI's Pitch tokens (their ids are contiguous), each window within the range."""
    return Transposer(_vocab_facts()["pitch_of"], max_shift)


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
    return corpus_nll(model, pieces, stride)


class RemiTransformer(Pretrained, GPT):
    """The REMI Music Transformer: a `GPT` over REMI events with style tokens, that generates chorales and tunes."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = GPTConfig
    shipped: ClassVar[str | None] = SHIPPED
    cfg: GPTConfig

    def generate(self, *, style: str = "essen", primer: Score | None = None, bars: int = 16,
                 temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> Score:  # fmt: skip
        """A piece of `bars` bars in a style (see `generate_remi`)."""
        return generate_remi(self, style=style, primer=primer, bars=bars, temperature=temperature, top_k=top_k,
                             top_p=top_p, seed=seed)  # fmt: skip


def train_remi(
    cfg: RemiTrainConfig, train_cfg: TrainConfig, out_dir: str | Path, *, progress: bool = True,
    limit: int | None = None, new_segment: bool = False,
) -> tuple[RemiTransformer, dict[str, Any]]:  # fmt: skip
    """Train on the train splits of the styles' corpora; figures: valid NLL per style and over both."""
    from cadenza.nn.lm import lm_loss
    from cadenza.train.loop import train

    train_pieces: list[list[int]] = []
    valid: dict[str, list[list[int]]] = {}
    for style in cfg.styles:
        train_pieces += corpus_pieces(style, "train", limit=limit)[0]
        valid[style] = corpus_pieces(style, "valid", limit=limit)[0]
    torch.manual_seed(train_cfg.seed)
    model = RemiTransformer(model_config(cfg))
    transposer = pitch_transposer(cfg.max_shift) if cfg.max_shift else None
    stream = [t for p in train_pieces for t in p]
    data = Windows(stream, cfg.block_size, cfg.batch_size, train_cfg.seed, transposer=transposer)
    all_valid = [p for v in valid.values() for p in v]

    def eval_fn(m: torch.nn.Module) -> dict[str, float]:
        return {"valid/nll": corpus_nll(m, all_valid, stride=cfg.block_size)["nll"]}

    result = train(
        model, data, lm_loss, train_cfg, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
        model_config={"model": asdict(model_config(cfg)), "remi": asdict(cfg)}, progress=progress,
        tokens_per_batch=cfg.batch_size * cfg.block_size, new_segment=new_segment,
    )  # fmt: skip
    model.eval()
    model.extra = {"remi": asdict(cfg), "segments": result.segments}
    overall = evaluate_remi(model, all_valid)
    figures: dict[str, Any] = {"valid_nll": overall["nll"], "valid_tokens": int(overall["tokens"])}
    for style, pieces in valid.items():
        figures[f"valid_nll_{style}"] = evaluate_remi(model, pieces)["nll"]
    figures.update(train_tokens=len(stream), train_seconds=result.seconds, steps=result.step)
    return model, figures


CARD = (
    """# REMI Transformer: Bach chorales and Essen tunes

A decoder-only Transformer with relative attention (Music Transformer) on REMI event tokens (MidiTok; Bar,
Position, Program, Pitch, Duration, TimeSig, Tempo; no velocities), one style token per corpus: the train
splits of `bach` (music21's chorales, voices as four string programs) and `essen/erk` (melodies as a flute),
each training window transposed by a random interval of at most {max_shift} semitones.

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
NLL in nats per REMI token over whole validation pieces (sliding windows of half the {context}-token context).
"""
)


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
    sliding window (the cache rebuilt from the last half context). Sampling follows REMI's grammar with programs
    (Position -> Program or Tempo, Program -> Pitch -> Duration), only the style's instruments, and every bar holds
    a note before the next bar begins (a small model would otherwise write whole pieces of empty bars).

    Raises:
        InputError: the primer cannot be encoded (pitches out of range) or fills the context.
    """
    facts = _vocab_facts()
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
    allowed_programs = VOICE_PROGRAMS if style == "bach" else (MELODY_PROGRAM,)  # the style's instruments only
    other_programs = [i for prog, i in facts["programs"].items() if prog not in allowed_programs]
    banned = torch.tensor(facts["specials"] + [style_token(s) for s in STYLES] + other_programs + facts["drums"])
    is_pitch = facts["pitch_of"][: vocab_size()] >= 0
    n_bars = [sum(t == facts["bar"] for t in tokens)]  # bars so far (a list: the closures update it)

    kinds = facts["kinds"]
    follows = {  # REMI's grammar with programs: what may come after a token of each kind
        "Position": kinds["Program"] | kinds["Tempo"],
        "Tempo": kinds["Position"],
        "Program": kinds["Pitch"],
        "Pitch": kinds["Duration"],
    }
    kind_of = {i: k for k, mask in kinds.items() for i in torch.nonzero(mask).flatten().tolist()}
    last_bar = [max((i for i, t in enumerate(tokens) if t == facts["bar"]), default=0)]

    def grammar(so_far: list[int], logits: torch.Tensor) -> torch.Tensor:
        eos = logits[:, facts["eos"]].clone()
        logits[:, banned] = float("-inf")
        kind = kind_of.get(so_far[-1])
        if kind in follows:
            logits[:, ~follows[kind]] = float("-inf")
        else:  # a Pitch comes only right after a Program
            logits[:, is_pitch] = float("-inf")
        if so_far[-1] == facts["bar"]:
            last_bar[0] = len(so_far) - 1
        if not is_pitch[so_far[last_bar[0] :]].any():  # a bar holds a note before the next bar or the end
            logits[:, facts["bar"]] = float("-inf")
        elif n_bars[0] >= 2 and kind not in follows:  # a piece is at least two bars long
            logits[:, facts["eos"]] = eos
        return logits

    def stop(_: list[int], tok: int) -> bool:
        if tok == facts["eos"] or (tok == facts["bar"] and n_bars[0] >= bars):
            return True
        n_bars[0] += tok == facts["bar"]
        return False

    tokens = sample_cached(model, tokens, max_new=max_tokens, generator=torch.Generator().manual_seed(seed),
                           temperature=temperature, top_k=top_k, top_p=top_p, constrain=grammar, stop=stop)  # fmt: skip
    title = f"REMI Transformer ({style})"
    score = decode_ids(tokens, title=title)
    tempo = 80.0 if style == "bach" else 110.0
    return score.replace(tempo_bpm=tempo, key=primer.key if primer is not None else None)
