"""VampNet (Garcia et al. 2023, https://arxiv.org/abs/2307.04686): a bidirectional Transformer over codec tokens,
trained to fill masked tokens, that "vamps" on a piece: variations, continuation, inpainting, looping.

A frame's K codes are embedded per codebook and summed (`embedding="learned"`), or, as VampNet does, read as the
codec's own code vectors, concatenated and projected (`"codec"`); every codebook has its own head. Training masks each
token with a probability drawn from a cosine schedule and scores the masked tokens only. A coarse model generates
the first codebooks; a coarse-to-fine model (`n_conditioning` > 0) is the same network with its first codebooks
always given, that fills the finer ones.

Sampling is MaskGIT's (Chang et al. 2022): all masked tokens are predicted at once, the most confident (log
probability plus annealed Gumbel noise, `mask_temperature`) are kept and the rest masked again, on a cosine
schedule over `steps` passes; with typical filtering and classifier-free guidance against the model with no prompt
(weight 1.0 by default: on held-out renders it brought FAD from 675 to 524 through the classifier and from 0.69 to
0.49 through CLAP, at twice the cost; `benchmarks/vampnet.py`).

A prompt says which tokens to keep (`prompt_mask`): `periodic:7` (every 7th frame), `continue:5s` (the first
5 s), `suffix:2s`, `inpaint:10s-14s`, `codebooks:1` (the coarsest codebook everywhere), `beat` (the frames on
detected beats); several prompts keep what any of them keeps.

The tune (`tune_bins` > 0): a model trained with the input's dominant note per frame (`dominant_notes`: the argmax of
a harmonic-sum pitch salience, one-hot over MIDI 28-100, as MusicGen-melody conditions on its dominant chroma bin,
but with the octave) leans towards the tune through a variation: `vamp(..., tune=notes, tune_guidance=3)`, `cadenza
vampnet vamp --follow-tune`. The condition is dropped from a share of the training windows, so the same model vamps
without it. Over codec-vocos it keeps part of the tune, not all (the codec's first code does not hold a note; card).

    model = VampNet.from_pretrained()                       # models/vampnet-music
    codes = model.codec.encode(audio)[:, : model.cfg.n_codebooks]
    mask = prompt_mask(["periodic:7"], codes.shape[-1], model.cfg)   # True: generate
    out = model.vamp(codes, mask, steps=24, seed=0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.dsp import SALIENCE_NOTES
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT
from cadenza.nn.rotary import rotary
from cadenza.pretrained import Pretrained
from cadenza.sample import classifier_free


@dataclass(frozen=True)
class VampNetConfig:
    codec: str = "codec-vocos"  # the codec (shipped name or folder) whose codes the model reads and writes
    codec_id: str = ""  # that codec's model id: codes of another codec are refused
    frame_rate: float = 50.0
    n_codebooks: int = 4  # codebooks the model sees (the first n_conditioning of them always given)
    n_conditioning: int = 0  # > 0: a coarse-to-fine model
    cardinality: int = 1024
    context: int = 256  # frames per window (5.12 s at 50 frames/s)
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192
    dropout: float = 0.0
    # "learned": an embedding table per codebook (the first shipped model); "codec": the codec's own code vectors
    # (fixed), concatenated over codebooks and projected, as VampNet does: codes the codec puts near each other
    # start near each other, instead of 1,024 unrelated rows per codebook to learn from little data
    embedding: str = "learned"  # (the default of configs saved before the choice; `vampnet train` picks "codec")
    code_dim: int = 8  # the codec's code vectors' size ("codec" embedding)
    # > 0: the model also reads the input's dominant note of each frame (`dominant_notes`), one-hot over these
    # semitones from MIDI `TUNE_LOW`, that a variation can follow (`vamp(tune=...)`; 0: no such input)
    tune_bins: int = 0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError("n_embd / n_head must be an even whole number (rotary positions rotate pairs)")
        if self.embedding not in ("learned", "codec"):
            raise ValueError(f"embedding must be 'learned' or 'codec', not {self.embedding!r}")
        if not 0 <= self.n_conditioning < self.n_codebooks:
            raise ValueError("n_conditioning must leave at least one codebook to generate")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout:g}")


TUNE_LOW = SALIENCE_NOTES[0]  # MIDI note of the tune condition's first bin


class Attention(nn.Module):
    def __init__(self, cfg: VampNetConfig) -> None:
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (y.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for y in self.qkv(x).split(c, dim=2))
        pos = torch.arange(t, device=x.device)
        q, k = rotary(q, pos), rotary(k, pos)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, cfg: VampNetConfig) -> None:
        super().__init__()
        c = cfg.n_embd
        self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))


def mask_ratio(r: torch.Tensor) -> torch.Tensor:
    """The cosine schedule: the share of tokens masked at progress r in [0, 1] (1 at r = 0, 0 at r = 1)."""
    return torch.cos(r * math.pi / 2)


class VampNet(Pretrained, nn.Module):
    kind: ClassVar[str] = "vampnet"
    config_cls: ClassVar[type] = VampNetConfig
    shipped: ClassVar[str | None] = "vampnet-music"
    cfg: VampNetConfig
    code_vectors: torch.Tensor  # the "codec" embedding's fixed vectors (a buffer)

    def __init__(self, cfg: VampNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.mask_id = cfg.cardinality
        c = cfg.n_embd
        if cfg.embedding == "codec":  # filled by `use_code_vectors` before training, then saved with the weights
            self.register_buffer("code_vectors", torch.zeros(cfg.n_codebooks, cfg.cardinality, cfg.code_dim))
            self.mask_vectors = nn.Parameter(torch.randn(cfg.n_codebooks, cfg.code_dim))
            self.embed_proj = nn.Linear(cfg.n_codebooks * cfg.code_dim, c)
        else:
            self.embed = nn.ModuleList(nn.Embedding(cfg.cardinality + 1, c) for _ in range(cfg.n_codebooks))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(c)
        self.head = nn.Linear(c, cfg.n_codebooks * cfg.cardinality)
        self.apply(GPT._init)  # nanoGPT's initialization
        if cfg.tune_bins:  # starts at zero: a model fine-tuned from one without it starts as that model
            self.tune = nn.Linear(cfg.tune_bins, c, bias=False)
            nn.init.zeros_(self.tune.weight)
        self._codec: Any = None

    def use_code_vectors(self, codec: Any) -> None:
        """Take the codec's code vectors (each codebook's, scaled to unit RMS) as the "codec" embedding's."""
        books = codec.code_vectors(self.cfg.n_codebooks)
        if books.shape[1:] != self.code_vectors.shape[1:]:
            raise ValueError(f"the codec's code vectors are {tuple(books.shape[1:])}, the model's "
                             f"{tuple(self.code_vectors.shape[1:])}")  # fmt: skip
        with torch.no_grad():
            self.code_vectors.copy_(books / books.pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-8))

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens [B, K, T] (`mask_id` where masked) -> [B, T, n_embd]."""
        k = tokens.shape[1]
        if self.cfg.embedding == "codec":
            masked = (tokens == self.mask_id).transpose(1, 2)[..., None]  # [B, T, K, 1]
            known = tokens.clamp(max=self.cfg.cardinality - 1)
            v = torch.stack([self.code_vectors[i][known[:, i]] for i in range(k)], 2)  # [B, T, K, code_dim]
            v = torch.where(masked, self.mask_vectors[:k].to(v), v)
            return self.embed_proj(v.flatten(2))
        x = sum(self.embed[i](tokens[:, i]) for i in range(k))
        assert isinstance(x, torch.Tensor)
        return x

    def tune_onehot(self, notes: torch.Tensor) -> torch.Tensor:
        """Dominant MIDI notes [B, T] (-1: none) -> one-hot [B, T, tune_bins] (zeros where none or out of range)."""
        i = notes.long() - TUNE_LOW
        ok = (notes >= 0) & (i >= 0) & (i < self.cfg.tune_bins)
        return F.one_hot(i.clamp(0, self.cfg.tune_bins - 1), self.cfg.tune_bins).float() * ok[..., None]

    def forward(self, tokens: torch.Tensor, tune: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens [B, K, T] (`mask_id` where masked), optionally the dominant notes [B, T] (-1: none; a model with
        `tune_bins`) -> logits [B, K, T, cardinality]."""
        b, k, t = tokens.shape
        x = self.embed_tokens(tokens)
        if tune is not None and self.cfg.tune_bins:
            x = x + self.tune(self.tune_onehot(tune).to(x))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x)).view(b, t, k, self.cfg.cardinality).transpose(1, 2)

    def training_mask(self, shape: tuple[int, int, int], g: torch.Generator | None = None) -> torch.Tensor:
        """[B, K, T] bool, True = masked: each item's ratio from the cosine schedule at a uniform r, each token
        masked with that probability; the conditioning codebooks never."""
        b, k, t = shape
        ratio = mask_ratio(torch.rand(b, 1, 1, generator=g))
        mask = torch.rand(b, k, t, generator=g) < ratio
        mask[:, : self.cfg.n_conditioning] = False
        return mask

    def token_losses(self, codes: torch.Tensor, mask: torch.Tensor, tune: torch.Tensor | None = None
                     ) -> torch.Tensor:  # fmt: skip
        """Cross-entropy of each masked token of codes [B, K, T] given the rest (and the tune [B, T], if given),
        0 where not masked: [B, K, T]."""
        logits = self(codes.masked_fill(mask, self.mask_id), tune)
        ce = F.cross_entropy(logits.reshape(-1, self.cfg.cardinality), codes.reshape(-1), reduction="none")
        return ce.reshape(codes.shape) * mask

    def loss(self, codes: torch.Tensor, mask: torch.Tensor, tune: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy of the masked tokens of codes [B, K, T] given the rest (and the tune [B, T])."""
        return self.token_losses(codes, mask, tune).sum() / mask.sum().clamp_min(1)

    # ---- MaskGIT sampling
    @torch.no_grad()
    def vamp_window(
        self,
        codes: torch.Tensor,
        mask: torch.Tensor,
        *,
        steps: int = 24,
        temperature: float = 1.0,
        mask_temperature: float = 10.5,
        typical_mass: float = 0.15,
        top_p: float = 1.0,
        guidance: float = 1.0,
        tune: torch.Tensor | None = None,
        tune_guidance: float = 0.0,
        g: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Fill the masked tokens (mask True) of codes [1, K, T] (T <= context) in `steps` passes, following the
        dominant notes `tune` [1, T] if given (guidance then pushes away from the model that hears neither the
        prompt nor the tune; `tune_guidance` > 0 pushes away from the model that hears the prompt without the tune
        too, one more pass per step)."""
        from cadenza.sample import apply_temperature, top_p_filter, typical_filter

        x = codes.masked_fill(mask, self.mask_id)
        n0 = int(mask.sum())
        if n0 == 0:
            return codes
        free = torch.full_like(x, self.mask_id)
        free[:, : self.cfg.n_conditioning] = x[:, : self.cfg.n_conditioning]
        for i in range(steps):
            where = (x == self.mask_id).view(-1).nonzero()[:, 0]  # only the masked tokens are filtered and drawn
            if len(where) == 0:
                break
            logits = self(x, tune).float().reshape(-1, self.cfg.cardinality)[where]
            cond = logits
            if guidance > 0:  # classifier-free guidance against the model that hears no prompt
                free_logits = self(free).float().reshape(-1, self.cfg.cardinality)[where]
                logits = classifier_free(cond, free_logits, 1.0 + guidance)
            if tune is not None and tune_guidance > 0:  # and against the model that hears the prompt, not the tune
                untuned = self(x).float().reshape(-1, self.cfg.cardinality)[where]
                logits = logits + tune_guidance * (cond - untuned)
            logits = typical_filter(top_p_filter(apply_temperature(logits, temperature), top_p), typical_mass)
            probs = torch.softmax(logits, -1)
            sampled = torch.multinomial(probs, 1, generator=g)[:, 0]
            conf = torch.log(probs.gather(-1, sampled[:, None])[:, 0].clamp_min(1e-20))
            anneal = mask_temperature * (1 - (i + 1) / steps)
            if anneal > 0:
                u = torch.rand(conf.shape, generator=g).clamp(1e-20, 1 - 1e-7)
                conf = conf + anneal * -torch.log(-torch.log(u))
            remain = 0 if i == steps - 1 else int(math.floor(n0 * float(mask_ratio(torch.tensor((i + 1) / steps)))))
            remain = min(remain, len(where) - 1)
            flat = x.view(-1)
            flat[where] = sampled
            if remain > 0:  # the least confident go back under the mask
                flat[where[conf.topk(remain, largest=False).indices]] = self.mask_id
        return x

    def tune_of(self, audio: np.ndarray, sample_rate: int, n_frames: int) -> torch.Tensor:
        """The tune condition of `audio` (mono, at `sample_rate`) for `vamp`: its dominant notes, one per frame of
        this model's codec, [1, n_frames]."""
        return torch.from_numpy(dominant_notes(audio, sample_rate, self.cfg.frame_rate, n_frames))[None]

    @torch.no_grad()
    def vamp(self, codes: torch.Tensor, mask: torch.Tensor, *, seed: int | None = 0, overlap: float = 0.5,
             progress: bool = False, tune: torch.Tensor | None = None, **sampling: Any) -> torch.Tensor:  # fmt: skip
        """Codes [1, K, T] of any length with a mask [1, K, T] (True: generate) -> codes [1, K, T]; `tune` [1, T]:
        the dominant notes to follow (`dominant_notes`; a model trained with `tune_bins`; `tune_guidance` in
        `sampling`).

        Windows of `context` frames move left to right, each overlapping the last by `overlap`: what a window made
        in the overlap is given to the next, so the music goes on across windows."""
        from tqdm.auto import tqdm

        if codes.shape[1] != self.cfg.n_codebooks or mask.shape != codes.shape:
            raise ValueError(f"codes and mask must be [1, {self.cfg.n_codebooks}, T]")
        if tune is not None:
            if not self.cfg.tune_bins:
                raise ValueError("this model was trained without the tune (tune_bins 0): it cannot follow one")
            if tune.shape != (1, codes.shape[-1]):
                raise ValueError(f"tune must be [1, {codes.shape[-1]}] (one note per frame)")
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        t, w = codes.shape[-1], self.cfg.context
        hop = max(1, round(w * (1 - overlap)))
        out, todo = codes.clone(), mask.clone()
        starts = list(range(0, t - w + 1, hop)) if t > w else [0]
        if starts[-1] + w < t:  # the last window ends with the file
            starts.append(t - w)
        for s in tqdm(starts, desc="vamp", unit="window", disable=not progress):
            e = min(t, s + w)
            if todo[..., s:e].any():
                window_tune = None if tune is None else tune[:, s:e]
                out[..., s:e] = self.vamp_window(out[..., s:e], todo[..., s:e], g=g, tune=window_tune, **sampling)
                todo[..., s:e] = False
        return out

    @torch.no_grad()
    def refine(self, coarse: torch.Tensor, mask: torch.Tensor, fine: torch.Tensor | None = None,
               **sampling: Any) -> torch.Tensor:  # fmt: skip
        """Coarse-to-fine (this model has `n_conditioning` > 0): a coarse model's output [1, C, T] (C =
        `n_conditioning`) and the mask it was made with [1, C, T] -> codes [1, K, T].

        The fine codebooks are generated at every frame where the coarse model generated anything, and kept from
        `fine` [1, K - C, T] (the input's own fine codes) at the frames the prompt kept whole; with no `fine`, they
        are generated everywhere. `sampling` goes to `vamp` (steps, guidance, seed, ...)."""
        c, k = self.cfg.n_conditioning, self.cfg.n_codebooks
        if c == 0:
            raise ValueError("refine needs a coarse-to-fine model (n_conditioning > 0)")
        if coarse.shape[1] != c or mask.shape != coarse.shape:
            raise ValueError(f"coarse codes and mask must be [1, {c}, T]")
        t = coarse.shape[-1]
        if fine is None:
            frames = torch.ones(1, k - c, t, dtype=torch.bool)
            filler = torch.zeros(1, k - c, t, dtype=coarse.dtype)
        else:
            frames, filler = mask.any(1, keepdim=True).expand(1, k - c, t), fine
        if filler.shape != (1, k - c, t):
            raise ValueError(f"fine codes must be [1, {k - c}, {t}]")
        codes = torch.cat([coarse, filler], 1)
        full_mask = torch.cat([torch.zeros_like(mask), frames], 1)
        if not full_mask.any():
            return codes
        return self.vamp(codes, full_mask, **sampling)

    # ---- the codec
    @property
    def codec(self) -> Any:
        """The codec whose codes the model reads (loaded once, checked against the id it was trained on)."""
        if self._codec is None:
            from cadenza.audio.codec import codec_for

            self._codec = codec_for(self.cfg.codec, self.cfg.codec_id)
        return self._codec


# ------------------------------------------------------------------------------------------------ prompts

PROMPTS = "periodic:K, continue:Ns, suffix:Ns, inpaint:As-Bs, codebooks:N, beat"


def _seconds(text: str, spec: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*s?\s*", text)
    if not m:
        raise InputError("--prompt", f"{spec!r}: {text!r} is not a time in seconds (like 5s)")
    return float(m.group(1))


def prompt_mask(prompts: list[str], n_frames: int, cfg: VampNetConfig, *, beats: np.ndarray | None = None
                ) -> torch.Tensor:  # fmt: skip
    """[1, K, n_frames] bool, True where the model generates: a token is kept when any prompt keeps it.

    Raises:
        InputError: an unknown prompt, a span outside the file, or prompts that keep nothing or everything.
    """
    k, rate = cfg.n_codebooks, cfg.frame_rate
    keep = torch.zeros(1, k, n_frames, dtype=torch.bool)
    keep[:, : cfg.n_conditioning] = True
    duration = n_frames / rate
    for spec in prompts:
        name, _, arg = spec.partition(":")
        name = name.strip()
        if name == "periodic":
            if not arg.strip().isdigit() or int(arg) < 1:
                raise InputError("--prompt", f"{spec!r}: periodic needs a whole number of frames >= 1 (periodic:7)")
            keep[..., :: int(arg)] = True
        elif name in ("continue", "prefix", "suffix"):
            s = _seconds(arg, spec)
            if s >= duration:
                raise InputError("--prompt", f"{spec!r}: {s:g} s is not shorter than the file ({duration:.2f} s)")
            n = round(s * rate)
            if name == "suffix":
                keep[..., n_frames - n :] = True
            else:
                keep[..., :n] = True
        elif name == "inpaint":
            a, sep, b = arg.partition("-")
            if not sep:
                raise InputError("--prompt", f"{spec!r}: inpaint needs a span like inpaint:10s-14s")
            sa, sb = _seconds(a, spec), _seconds(b, spec)
            if not sa < sb <= duration:
                raise InputError("--prompt", f"{spec!r}: the span {sa:g}-{sb:g} s is not inside the file "
                                             f"(0-{duration:.2f} s)")  # fmt: skip
            span = torch.zeros(n_frames, dtype=torch.bool)
            span[round(sa * rate) : round(sb * rate)] = True
            keep |= ~span  # everything outside the span is kept
        elif name == "codebooks":
            if not arg.strip().isdigit() or not 1 <= int(arg) < k:
                raise InputError("--prompt", f"{spec!r}: codebooks needs 1..{k - 1} (the coarsest kept everywhere)")
            keep[:, : int(arg)] = True
        elif name == "beat":
            if beats is None or len(beats) == 0:
                raise InputError("--prompt", "beat: no beats were found in the audio")
            for b_s in beats:
                f = round(float(b_s) * rate)
                keep[..., max(0, f - 1) : f + 2] = True
        else:
            raise InputError("--prompt", f"unknown prompt {spec!r} (prompts: {PROMPTS})")
    mask = ~keep
    if not mask.any():
        raise InputError("--prompt", f"{' '.join(prompts)} keeps every token: nothing is left to generate")
    if mask[:, cfg.n_conditioning :].all() and prompts:
        raise InputError("--prompt", f"{' '.join(prompts)} keeps no token: the model would not hear the input")
    return mask


def detect_beats(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Beat times in seconds (librosa's beat tracker)."""
    import librosa

    _, frames = librosa.beat.beat_track(y=audio.astype(np.float32), sr=sample_rate)
    return np.asarray(librosa.frames_to_time(frames, sr=sample_rate), dtype=np.float64)


def dominant_notes(audio: np.ndarray, sample_rate: int, frame_rate: float, n_frames: int | None = None,
                   silence_db: float = -45.0) -> np.ndarray:  # fmt: skip
    """The tune condition: the dominant MIDI note of each codec frame of `audio` (the argmax of the harmonic-sum
    `pitch_salience` over MIDI 28-100, its fundamental where one tone sounds, the loudest where several do), -1
    where the frame is more than `silence_db` below the loudest frame. int64 [n_frames]."""
    from cadenza.audio.dsp import pitch_salience

    hop = int(round(sample_rate / frame_rate))
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))[None]
    with torch.no_grad():
        sal = pitch_salience(x, sample_rate, hop)[0]  # [notes, T]
        frames = x[0, : sal.shape[1] * hop].reshape(-1, hop) if sal.shape[1] else x[0, :0].reshape(0, hop)
        rms = frames.pow(2).mean(1).sqrt()
    notes = (sal.argmax(0) + SALIENCE_NOTES[0]).numpy().astype(np.int64)
    level = 20 * np.log10(np.maximum(rms.numpy(), 1e-9) / max(float(rms.max()) if len(rms) else 0.0, 1e-9))
    notes[level < silence_db] = -1
    if n_frames is not None:
        notes = np.pad(notes, (0, max(0, n_frames - len(notes))), constant_values=-1)[:n_frames]
    return notes
