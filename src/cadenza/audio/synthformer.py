"""Synthformer: a causal Transformer over stacked codec codebooks that plays a sound texture as its parameters move
(after lonce/DACSynthformer, the course's week 4), over cadenza's own codec.

Each step of the model is one frame of codec codes (K codebooks, `cadenza.nn.patterns`: stacked in parallel or
MusicGen's delay), embedded per codebook and summed; one head per codebook predicts the next step. The sound class
(one-hot) and the continuous parameters of every frame condition every block through adaptive layer norm (adaLN,
zero-initialized: a block starts as the identity of its input's scale and shift). Positions are rotary, applied
once to queries and keys (the reference applies them twice); attention is banded (in each layer a step sees the
last `window` steps, so the model hears n_layer x window steps back), so the key/value cache never holds more than
`window` steps and the model plays for any length at a constant cost per frame.

    model = Synthformer.from_pretrained()                       # models/synthformer-textures
    codes = model.generate("rain", {"density": curve}, n_frames=400, seed=0)   # curve: one value per frame
    audio = model.codec.decode(codes)

Classifier-free guidance on the parameters (`guidance` g > 1) plays u + g (c - u), c the model with its parameters and
u without them (`unconditioned`): a learned null where the model was trained with parameter dropout, else the
parameters at the middle of their range (guidance away from a neutral setting: the sound follows its curve more
closely, at a cost in fidelity; `GUIDANCE` says what was measured). Training options for a model that ignores its
parameters and copies its history: token dropout, parameter dropout, Fourier features of the parameters. Tried on
the first model's failure, the fm texture (its FM index not followed: probe r -0.17 on held-out curves), by
fine-tuning it for 25-40 min (about 2 s/step on one core): token dropout 0.2 / 0.4 gave 0.01 / -0.57 at 750 steps
and cost the wind its following (0.58 -> 0.17 / 0.29); 1,000 more fm clips with parameter dropout 0.1 gave -0.09
(wind 0.16), with Fourier features (4) as well 0.22 while applause, bugs and engine lost 0.07-0.10 each. What
worked is the data: 1,000 steps on all six textures with curves that jump and hold (`cadenza data textures --curves
steps`, so that the past cannot say what comes next) beside the smooth ones gave fm 0.62 alone and 0.60 at guidance
1.5 (the same steps on fresh smooth curves, the control: 0.61 and 0.38), and is the shipped model (its card).

`frames(kind, control)` yields one frame of codes at a time, reading the parameters of each frame from `control`
as it goes (the live mode); `FrameDecoder` turns frames into audio with a bounded look-ahead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.errors import InputError
from cadenza.nn.banded import BandedAttention, Cache
from cadenza.nn.gpt import GPT
from cadenza.nn.patterns import Pattern
from cadenza.pretrained import Pretrained
from cadenza.sample import classifier_free


@dataclass(frozen=True)
class SynthformerConfig:
    codec: str = "codec-vocos"  # the codec model (shipped name or folder) whose codes the model plays
    codec_id: str = ""  # that codec's model id: codes of another codec are refused
    frame_rate: float = 50.0
    n_codebooks: int = 4
    cardinality: int = 1024
    pattern: str = "delay"  # "delay" (MusicGen) or "parallel" (stacked, as the reference)
    classes: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # every parameter name, in the order of the conditioning vector
    class_params: tuple[str, ...] = ()  # per class, its parameters joined by commas ("density")
    param_range: tuple[float, float] = (0.0, 1.0)
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192
    window: int = 128  # attention band in steps (2.56 s at 50 frames/s)
    dropout: float = 0.0
    token_dropout: float = 0.0  # training: share of input tokens replaced by random ones (the history cannot be copied)
    param_dropout: float = 0.0  # training: share of windows whose parameters become a learned null (for guidance)
    param_features: int = 0  # each parameter also as sin/cos of 2^k pi v, k < this (Fourier features); 0: raw only

    def __post_init__(self) -> None:
        if self.pattern not in ("delay", "parallel"):
            raise ValueError(f"Synthformer plays stacked frames: pattern 'delay' or 'parallel', not {self.pattern!r}")
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError("n_embd / n_head must be an even whole number (rotary positions rotate pairs)")
        if not (0 <= self.token_dropout < 1 and 0 <= self.param_dropout <= 1):
            raise ValueError("token_dropout must be in [0, 1) and param_dropout in [0, 1]")
        if len(self.class_params) != len(self.classes):
            raise ValueError("class_params needs one entry per class")

    @property
    def cond_dim(self) -> int:
        """The width of a condition vector: the class one-hot, then every parameter."""
        return len(self.classes) + len(self.params)

    @property
    def cond_features(self) -> int:
        """The width of what the conditioning network reads: with Fourier features, 2 more per parameter and k."""
        return self.cond_dim + 2 * self.param_features * len(self.params)

    def params_of(self, kind: str) -> list[str]:
        return [p for p in self.class_params[self.classes.index(kind)].split(",") if p]


class Block(nn.Module):
    """Pre-norm block whose two layer norms take their scale and shift from the condition (adaLN)."""

    def __init__(self, cfg: SynthformerConfig) -> None:
        super().__init__()
        c = cfg.n_embd
        self.ln1 = nn.LayerNorm(c, elementwise_affine=False)
        self.ln2 = nn.LayerNorm(c, elementwise_affine=False)
        self.attn = BandedAttention(c, cfg.n_head, cfg.window)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
        self.mod = nn.Linear(c, 4 * c)
        nn.init.zeros_(self.mod.weight)
        nn.init.zeros_(self.mod.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, pos: torch.Tensor, cache: Cache | None
                ) -> tuple[torch.Tensor, Cache]:  # fmt: skip
        shift1, scale1, shift2, scale2 = self.mod(cond).chunk(4, dim=-1)
        a, cache = self.attn(self.ln1(x) * (1 + scale1) + shift1, pos, cache)
        x = x + self.drop(a)
        x = x + self.drop(self.mlp(self.ln2(x) * (1 + scale2) + shift2))
        return x, cache


class Synthformer(Pretrained, nn.Module):
    kind: ClassVar[str] = "synthformer"
    config_cls: ClassVar[type] = SynthformerConfig
    shipped: ClassVar[str | None] = "synthformer-textures"
    cfg: SynthformerConfig
    # What `play` and the demo use (`frames` and `generate` default to 1, the model alone). Measured on the shipped
    # model (benchmarks/synthformer.py, 8 held-out clips per texture): guidance 1.5 follows the curve better (probe
    # r 0.69 -> 0.80, clips below r 0.5 27% -> 17%) and sounds closer to real textures (FAD 108 vs 128 unguided,
    # codec 146); 2 follows as well (0.81, 8%) further from them (FAD 141); on the first model 3 lost the class (88%).
    GUIDANCE: ClassVar[float] = 1.5

    def __init__(self, cfg: SynthformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pattern = Pattern(cfg.pattern, cfg.n_codebooks)
        self.pad, self.bos = cfg.cardinality, cfg.cardinality + 1
        c = cfg.n_embd
        self.embed = nn.ModuleList(nn.Embedding(cfg.cardinality + 2, c) for _ in range(cfg.n_codebooks))
        self.cond = nn.Sequential(nn.Linear(cfg.cond_features, c), nn.SiLU(), nn.Linear(c, c))
        if cfg.param_dropout > 0:  # "no parameters": the unconditional branch of guidance
            self.null_params = nn.Parameter(torch.full((len(cfg.params),), -1.0))  # starts outside the range
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(c)
        self.head = nn.Linear(c, cfg.n_codebooks * cfg.cardinality)
        self.apply(GPT._init)  # nanoGPT's initialization, then adaLN back to zero (each block starts as identity)
        for m in self.modules():
            if isinstance(m, Block):
                nn.init.zeros_(m.mod.weight)
                nn.init.zeros_(m.mod.bias)
        self._codec: Any = None

    # ---- the network
    def forward(self, tokens: torch.Tensor, cond: torch.Tensor, start: int = 0, caches: list[Cache] | None = None
                ) -> tuple[torch.Tensor, list[Cache]]:  # fmt: skip
        """Input tokens [B, K, S] (each step holds the tokens of the step before it), conditions [B, S, cond_dim]
        -> logits [B, K, S, cardinality] for the tokens of each step, and the new caches. `start` is the position of
        the first step (with `caches`, the step after the cached ones)."""
        b, k, s = tokens.shape
        x = sum(self.embed[i](tokens[:, i]) for i in range(k))
        assert isinstance(x, torch.Tensor)
        c = self.cond(self.features(cond))
        x = x + c
        pos = torch.arange(start, start + s, device=tokens.device)
        new: list[Cache] = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, c, pos, caches[i] if caches else None)
            new.append(cache)
        logits = self.head(self.ln_f(x)).view(b, s, k, self.cfg.cardinality).transpose(1, 2)
        return logits, new

    def condition(self, kind: str | int, values: dict[str, float] | torch.Tensor | np.ndarray) -> torch.Tensor:
        """The conditioning vector(s): one-hot class then every parameter (zero where the class has none)."""
        cls = kind if isinstance(kind, int) else self.class_index(kind)
        if isinstance(values, dict):
            v = torch.zeros(len(self.cfg.params))
            for name, x in values.items():
                v[self.cfg.params.index(name)] = float(x)
            values = v
        values = torch.as_tensor(values, dtype=torch.float32)
        onehot = F.one_hot(torch.tensor(cls), len(self.cfg.classes)).float()
        return torch.cat([onehot.expand(*values.shape[:-1], -1), values], dim=-1)

    def features(self, cond: torch.Tensor) -> torch.Tensor:
        """Conditions [..., cond_dim] -> what the conditioning network reads: as they are, then (with
        `param_features` k) sin and cos of 2^j pi v for every parameter v and j < k, so that a small move of a
        parameter can make a large change (a sound's response to its parameter is rarely linear)."""
        if not self.cfg.param_features:
            return cond
        v = cond[..., len(self.cfg.classes) :, None] * (math.pi * 2.0 ** torch.arange(self.cfg.param_features))
        return torch.cat([cond, v.sin().flatten(-2), v.cos().flatten(-2)], dim=-1)

    def unconditioned(self, cond: torch.Tensor) -> torch.Tensor:
        """Conditions [..., cond_dim] with the parameters taken away, the class kept: the learned null of a model
        trained with parameter dropout, else the middle of the range (guidance against a neutral setting)."""
        n = len(self.cfg.classes)
        onehot, values = cond[..., :n], cond[..., n:]
        if self.cfg.param_dropout > 0:
            return torch.cat([onehot, self.null_params.expand_as(values)], dim=-1)
        own = torch.tensor([[p in self.cfg.params_of(k) for p in self.cfg.params] for k in self.cfg.classes])
        middle = sum(self.cfg.param_range) / 2
        return torch.cat([onehot, torch.where(onehot @ own.float() > 0, middle, values)], dim=-1)

    def class_index(self, kind: str) -> int:
        if kind not in self.cfg.classes:
            raise InputError("--class", f"{kind!r} is not a class of this model ({', '.join(self.cfg.classes)})")
        return self.cfg.classes.index(kind)

    def loss(self, codes: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy of codes [B, K, T] given per-frame conditions [B, T, cond_dim]; also per codebook [K]."""
        steps = self.pattern.build(codes, self.pad)  # [B, K, S]
        s = steps.shape[-1]
        inputs = torch.cat([torch.full_like(steps[..., :1], self.bos), steps[..., :-1]], dim=-1)
        frame = torch.tensor([min(self.pattern.frame_of(i), codes.shape[-1] - 1) for i in range(s)])
        cond = cond[:, frame]
        if self.training and self.cfg.token_dropout > 0:  # Tacotron 2's pre-net dropout, on tokens
            hit = (torch.rand(inputs.shape) < self.cfg.token_dropout) & (inputs < self.cfg.cardinality)
            inputs = torch.where(hit, torch.randint_like(inputs, self.cfg.cardinality), inputs)
        if self.training and self.cfg.param_dropout > 0:
            drop = torch.rand(cond.shape[0]) < self.cfg.param_dropout
            cond = torch.where(drop[:, None, None], self.unconditioned(cond), cond)
        logits, _ = self(inputs, cond)
        target = steps.masked_fill(steps == self.pad, -100)
        ce = F.cross_entropy(logits.reshape(-1, self.cfg.cardinality), target.reshape(-1), reduction="none")
        ce = ce.view_as(target).float()
        valid = (target != -100).float()
        per_codebook = (ce * valid).sum((0, 2)) / valid.sum((0, 2)).clamp_min(1)
        return (ce * valid).sum() / valid.sum(), per_codebook

    # ---- playing
    @torch.no_grad()
    def frames(
        self,
        kind: str,
        control: Callable[[int], dict[str, float]],
        *,
        n_frames: int | None = None,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        use_cache: bool = True,
        guidance: float = 1.0,
    ) -> Iterator[torch.Tensor]:
        """Yield frames of codes [K] one at a time (forever when `n_frames` is None); `control(frame)` gives the
        parameters of each frame when the model reaches it. Without the cache every step recomputes the last
        `window` steps (the reference's way; for measuring the cache). `guidance` != 1: classifier-free guidance on
        the parameters, u + guidance (c - u) with u the model `unconditioned` (two rows per step)."""
        from cadenza.sample import sample_next

        if guidance != 1.0 and not use_cache:
            raise ValueError("guidance runs with the cache (use_cache=True)")
        cls = self.class_index(kind)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        k, delay = self.cfg.n_codebooks, self.cfg.n_codebooks - 1 if self.cfg.pattern == "delay" else 0
        caches: list[Cache] | None = None
        prev = torch.full((1, k, 1), self.bos, dtype=torch.long)
        hist_tok: list[torch.Tensor] = []
        hist_cond: list[torch.Tensor] = []
        pending: dict[int, torch.Tensor] = {}  # frame -> codes [K] (filled codebook by codebook in the delay pattern)
        conds: dict[int, torch.Tensor] = {}
        step = 0
        while n_frames is None or step < n_frames + delay:
            frame = self.pattern.frame_of(step)
            if n_frames is not None:
                frame = min(frame, n_frames - 1)
            if frame not in conds:  # with guidance, two rows: the condition and the unconditioned one
                c = self.condition(cls, self.check_params(kind, control(frame)))
                conds[frame] = torch.stack([c, self.unconditioned(c)]) if guidance != 1.0 else c[None]
            c = conds[frame][:, None]
            if guidance != 1.0:  # classifier-free guidance on the parameters: u + guidance (c - u)
                logits, caches = self(prev.expand(2, -1, -1), c, start=step, caches=caches)
                lp = logits[:, :, -1].log_softmax(-1)
                last = classifier_free(lp[0], lp[1], guidance)
            elif use_cache:
                logits, caches = self(prev, c, start=step, caches=caches)
                last = logits[0, :, -1]
            else:
                hist_tok.append(prev)
                hist_cond.append(c)
                w = self.cfg.window
                hist_tok, hist_cond = hist_tok[-w:], hist_cond[-w:]
                logits, _ = self(torch.cat(hist_tok, -1), torch.cat(hist_cond, 1), start=step - len(hist_tok) + 1)
                last = logits[0, :, -1]
            tok = sample_next(last, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)  # [K]
            ok = self.pattern.valid(step, n_frames)
            tok = torch.where(ok, tok, torch.full_like(tok, self.pad))
            for i in range(k):
                if ok[i]:
                    pending.setdefault(step - (i if delay else 0), torch.zeros(k, dtype=torch.long))[i] = tok[i]
            prev = tok.view(1, k, 1)
            done = step - delay
            if done >= 0:
                yield pending.pop(done)
                conds.pop(done - 1, None)
            step += 1

    def check_params(self, kind: str, values: dict[str, float]) -> dict[str, float]:
        """`values`, once each name is a parameter of the class and each value in the trained range (else
        InputError naming --param)."""
        self.class_index(kind)
        own = self.cfg.params_of(kind)
        lo, hi = self.cfg.param_range
        for name, v in values.items():
            if name not in own:
                raise InputError("--param", f"{name!r} is not a parameter of {kind} (it has: {', '.join(own)})")
            if not (math.isfinite(v) and lo <= v <= hi):
                raise InputError("--param", f"{name} = {v:g} is outside the trained range [{lo:g}, {hi:g}]")
        return values

    def generate(self, kind: str, curves: dict[str, np.ndarray], n_frames: int, **sampling: Any) -> torch.Tensor:
        """Codes [1, K, n_frames] for a class and a curve per parameter (one value per frame; a parameter without a
        curve stays at the middle of its range)."""
        self.class_index(kind)
        lo, hi = self.cfg.param_range
        own = self.cfg.params_of(kind)
        for name, curve in curves.items():
            if len(curve) < n_frames:
                raise ValueError(f"the curve of {name} has {len(curve)} values for {n_frames} frames")
            curve = np.asarray(curve[:n_frames], dtype=np.float64)
            ends = (float(curve.min()), float(curve.max())) if np.isfinite(curve).all() else (math.nan,)
            for v in ends:  # a parameter of the class, every value in the trained range
                self.check_params(kind, {name: v})

        def control(f: int) -> dict[str, float]:
            return {p: float(curves[p][f]) if p in curves else (lo + hi) / 2 for p in own}

        return torch.stack(list(self.frames(kind, control, n_frames=n_frames, **sampling)), dim=-1)[None]

    # ---- the codec
    @property
    def codec(self) -> Any:
        """The codec whose codes the model plays (loaded once, checked against the id the model was trained on)."""
        if self._codec is None:
            from cadenza.audio.codec import codec_for

            self._codec = codec_for(self.cfg.codec, self.cfg.codec_id)
        return self._codec


def curves_from_specs(model: Synthformer, kind: str, specs: list[str], n_frames: int) -> dict[str, np.ndarray]:
    """Curves per frame from `parse_curve` specs, each checked to be a parameter of `kind` within the trained range.

    Raises:
        InputError: a spec that does not parse, an unknown parameter or a value out of range.
    """
    curves = {}
    for spec in specs:
        try:
            name, points = parse_curve(spec, n_frames / model.cfg.frame_rate)
        except ValueError as e:
            raise InputError("--param", str(e)) from None
        for _, v in points:
            model.check_params(kind, {name: v})
        curves[name] = curve_frames(points, n_frames, model.cfg.frame_rate)
    return curves


def parse_curve(text: str, seconds: float) -> tuple[str, list[tuple[float, float]]]:
    """`"rate=0:0.1,10:0.9"` -> ("rate", [(0, 0.1), (10, 0.9)]): breakpoints (seconds: value), or a constant
    `"rate=0.4"`. Raises ValueError with what is wrong."""
    if "=" not in text:
        raise ValueError(f"{text!r} is not NAME=VALUE or NAME=T:V,T:V,...")
    name, spec = text.split("=", 1)
    points: list[tuple[float, float]] = []
    for part in spec.split(","):
        t, _, v = part.rpartition(":")
        try:
            points.append((float(t) if t else 0.0, float(v)))
        except ValueError:
            raise ValueError(f"{text!r}: {part!r} is not TIME:VALUE") from None
    times = [t for t, _ in points]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"{text!r}: the breakpoint times must increase")
    if any(not math.isfinite(v) for _, v in points) or any(not math.isfinite(t) or t < 0 for t in times):
        raise ValueError(f"{text!r}: times must be >= 0 and values finite")
    return name.strip(), points


def curve_frames(points: list[tuple[float, float]], n_frames: int, frame_rate: float) -> np.ndarray:
    """Breakpoints sampled at each frame: linear between them, held before the first and after the last."""
    t = np.arange(n_frames) / frame_rate
    times, values = zip(*points)
    return np.interp(t, times, values).astype(np.float32)


class FrameDecoder:
    """Frames of codes in, audio out, with a bounded look-ahead: a frame's audio comes out once `lookahead` frames
    after it are known, decoded with `context` frames of the past (for a non-causal codec whose output at a frame
    depends on its neighbours; the codec's `context_frames()` makes it equal to decoding the whole file)."""

    def __init__(self, codec: Any, *, lookahead: int | None = None, context: int | None = None,
                 chunk: int = 10) -> None:  # fmt: skip
        full = codec.context_frames()
        self.codec, self.chunk = codec, chunk
        self.lookahead = full if lookahead is None else lookahead
        self.context = full if context is None else context
        self.frames: list[torch.Tensor] = []
        self.done = 0  # frames whose audio went out

    @property
    def latency_s(self) -> float:
        """Seconds from a frame's codes to its audio: the look-ahead and a chunk."""
        return (self.lookahead + self.chunk) / self.codec.frame_rate

    def push(self, frame: torch.Tensor) -> np.ndarray:
        """Add one frame [K]; returns the audio that is now final (often empty)."""
        self.frames.append(frame)
        if len(self.frames) - self.done < self.chunk + self.lookahead:
            return np.zeros(0, np.float32)
        return self._emit(self.done + self.chunk)

    def flush(self) -> np.ndarray:
        """The audio of every frame not yet out."""
        return self._emit(len(self.frames)) if len(self.frames) > self.done else np.zeros(0, np.float32)

    def _emit(self, end: int) -> np.ndarray:
        a = max(0, self.done - self.context)
        b = min(len(self.frames), end + self.lookahead)
        codes = torch.stack(self.frames[a:b], dim=-1)[None]
        hop = self.codec.cfg.hop
        y = self.codec.decode(codes)[0, 0, (self.done - a) * hop : (end - a) * hop].numpy()
        self.done = end
        keep = max(0, self.done - self.context)
        if keep > 0:  # drop what no later chunk needs, with the indices it shifts
            self.frames, self.done = self.frames[keep:], self.done - keep
        return y.astype(np.float32)
