"""Latent diffusion for text-to-music: a Transformer that denoises the codec's continuous latent (before
quantization), conditioned on the same prompt encoder as the token model, sampled in a few DDIM steps.

The course contrasts the two families of text-to-audio on one benchmark: autoregressive token models (MusicGen,
`cadenza.audio.text2music`) and latent diffusion (AudioLDM, Stable Audio). This one is the second, at a laptop's
scale:

- the data is the codec encoder's latent (64 channels at 50 frames/s), normalized per channel by its training
  statistics; the codec's decoder turns a denoised latent back into audio;
- diffusion in continuous time with the cosine schedule (alpha = cos(pi t / 2), sigma = sin(pi t / 2)) and the
  v-prediction target (Salimans and Ho 2022), mean squared error;
- the denoiser: bidirectional Transformer blocks over frames (rotary positions) whose layer norms take their scale,
  shift and gate from the noise level (adaLN-zero, DiT) and which cross-attend to the prompt's token embeddings;
  the pooled sentence embedding joins the noise level; melody (dominant chroma bin per frame) added to the input;
- classifier-free guidance (prompt dropped in training), a deterministic DDIM sampler of `steps` steps;
- editing a given audio towards a new prompt (SDEdit, Meng et al. 2022): its latent noised to level `strength`,
  then denoised under the new prompt, so its lower-level shape (the tune, the rhythm) survives: "make it a cello".

    model = LatentDiffusion.from_pretrained()                      # models/latent-diffusion-small
    audio = model.generate("a slow cello melody in D minor", n_frames=400, steps=25, guidance=3.0, seed=0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cadenza.audio.text2music import CHROMA_DIM, CrossAttention, TextCondition, _cat_text, chroma_onehot, no_text
from cadenza.errors import InputError
from cadenza.nn.gpt import GPT
from cadenza.nn.rotary import rotary
from cadenza.pretrained import Pretrained
from cadenza.sample import classifier_free


@dataclass(frozen=True)
class LatentDiffusionConfig:
    codec: str = "codec-vocos"
    codec_id: str = ""
    frame_rate: float = 50.0
    latent_dim: int = 64
    latent_mean: tuple[float, ...] = ()  # per channel, over the training latents
    latent_std: tuple[float, ...] = ()
    text_dim: int = 384
    max_text_tokens: int = 64
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192
    dropout: float = 0.1
    text_dropout: float = 0.2
    melody_dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError("n_embd / n_head must be an even whole number (rotary positions rotate pairs)")


def alpha_sigma(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosine schedule: signal and noise scales at times t in [0, 1] (t = 1: pure noise)."""
    return torch.cos(0.5 * math.pi * t), torch.sin(0.5 * math.pi * t)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of the noise level t [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    ang = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([ang.cos(), ang.sin()], dim=-1)


class SelfAttention(nn.Module):
    """Bidirectional attention over the frames, rotary positions."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (y.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for y in self.qkv(x).split(c, dim=2))
        pos = torch.arange(t, device=x.device)
        y = F.scaled_dot_product_attention(rotary(q, pos), rotary(k, pos), v)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class DiTBlock(nn.Module):
    """Self-attention and MLP modulated by the condition vector (adaLN-zero: each starts as the identity), and
    cross-attention to the prompt."""

    def __init__(self, cfg: LatentDiffusionConfig) -> None:
        super().__init__()
        c = cfg.n_embd
        self.ln1 = nn.LayerNorm(c, elementwise_affine=False)
        self.ln2 = nn.LayerNorm(c)
        self.ln3 = nn.LayerNorm(c, elementwise_affine=False)
        self.attn = SelfAttention(c, cfg.n_head)
        self.cross = CrossAttention(c, cfg.n_head)
        self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
        self.mod = nn.Linear(c, 6 * c)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
        sh1, sc1, g1, sh2, sc2, g2 = self.mod(F.silu(cond))[:, None].chunk(6, dim=-1)
        x = x + g1 * self.drop(self.attn(self.ln1(x) * (1 + sc1) + sh1))
        x = x + self.drop(self.cross(self.ln2(x), kv, mask))
        return x + g2 * self.drop(self.mlp(self.ln3(x) * (1 + sc2) + sh2))


class LatentDiffusion(Pretrained, nn.Module):
    kind: ClassVar[str] = "latent-diffusion"
    config_cls: ClassVar[type] = LatentDiffusionConfig
    shipped: ClassVar[str | None] = "latent-diffusion-small"
    cfg: LatentDiffusionConfig

    def __init__(self, cfg: LatentDiffusionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.n_embd
        self.inp = nn.Linear(cfg.latent_dim, c)
        self.chroma = nn.Linear(CHROMA_DIM, c, bias=False)
        self.time = nn.Sequential(nn.Linear(c, c), nn.SiLU(), nn.Linear(c, c))
        self.text_proj = nn.Linear(cfg.text_dim, c)
        self.pooled_proj = nn.Linear(cfg.text_dim, c)
        self.null = nn.Parameter(torch.zeros(1, 1, c))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(c, elementwise_affine=False)
        self.out_mod = nn.Linear(c, 2 * c)
        self.out = nn.Linear(c, cfg.latent_dim)
        self.apply(GPT._init)
        # adaLN-zero: every block, and the output, start as the identity
        for m in [*(cast(DiTBlock, b).mod for b in self.blocks), self.out_mod, self.out]:
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        mean = torch.tensor(cfg.latent_mean or [0.0] * cfg.latent_dim)
        std = torch.tensor(cfg.latent_std or [1.0] * cfg.latent_dim)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", mean[None, :, None], persistent=False)
        self.register_buffer("std", std[None, :, None], persistent=False)
        self._codec: Any = None

    # ---- the network
    def forward(self, x: torch.Tensor, t: torch.Tensor, text: TextCondition, chroma: torch.Tensor) -> torch.Tensor:
        """Noisy normalized latents x [B, D, T] at levels t [B], prompts, melody [B, T, 13] -> predicted v [B, D, T]."""
        b = x.shape[0]
        mem = torch.cat([self.null.expand(b, -1, -1), self.text_proj(text.tokens)], dim=1)
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), text.mask], dim=1)
        cond = self.time(timestep_embedding(t, self.cfg.n_embd)) + self.pooled_proj(text.pooled)
        h = self.inp(x.transpose(1, 2)) + self.chroma(chroma)
        for block in self.blocks:
            h = block(h, cond, cast(DiTBlock, block).cross.memory(mem), mask)
        shift, scale = self.out_mod(F.silu(cond))[:, None].chunk(2, dim=-1)
        return self.out(self.ln_f(h) * (1 + scale) + shift).transpose(1, 2)

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def loss(self, z: torch.Tensor, text: TextCondition, chroma: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """The v-prediction loss of codec latents z [B, D, T] (not normalized) at random noise levels."""
        x0 = self.normalize(z)
        t = torch.rand(x0.shape[0], generator=generator).clamp(1e-3, 1 - 1e-3)
        noise = torch.randn(x0.shape, generator=generator)
        a, s = (v[:, None, None] for v in alpha_sigma(t))
        v = a * noise - s * x0
        return F.mse_loss(self(a * x0 + s * noise, t, text, chroma), v)

    # ---- sampling
    @torch.no_grad()
    def sample(self, text: TextCondition, n_frames: int, *, steps: int = 25, guidance: float = 3.0,
               melody: np.ndarray | None = None, start: torch.Tensor | None = None, strength: float = 1.0,
               seed: int | None = None) -> torch.Tensor:  # fmt: skip
        """Latents [1, D, n_frames] for one prompt: DDIM from noise (or, with `start` [1, D, n_frames] and
        `strength` < 1, from that latent noised to level `strength`: SDEdit); guidance against no prompt."""
        if steps < 1:
            raise ValueError("steps must be at least 1")
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength:g}")
        self.eval()
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        guided = guidance != 1.0
        both = _cat_text(text, no_text(1, self.cfg.text_dim)) if guided else text
        chroma = torch.zeros(1, n_frames, CHROMA_DIM)
        if melody is not None:
            if len(melody) < n_frames:
                raise ValueError(f"the melody has {len(melody)} frames for {n_frames}")
            chroma = chroma_onehot(melody[:n_frames])[None]
        chroma = chroma.expand(both.tokens.shape[0], -1, -1)
        times = torch.linspace(strength, 0.0, steps + 1)
        noise = torch.randn(1, self.cfg.latent_dim, n_frames, generator=g)
        if start is not None:
            a, s = alpha_sigma(times[:1])
            x = a * self.normalize(start) + s * noise
        else:
            x = noise
        for t, t_next in zip(times[:-1], times[1:]):
            tt = t.expand(both.tokens.shape[0])
            v = self(x.expand(both.tokens.shape[0], -1, -1), tt, both, chroma)
            v = classifier_free(v[:1], v[1:], guidance) if guided else v
            a, s = alpha_sigma(t)
            x0, eps = a * x - s * v, s * x + a * v
            a2, s2 = alpha_sigma(t_next)
            x = a2 * x0 + s2 * eps
        return self.denormalize(x)

    def text(self, prompt: str) -> tuple[TextCondition, bool]:
        from cadenza.audio.text2music import encode_text

        if not prompt.strip():
            raise InputError("prompt", "is empty: describe the music (e.g. 'a slow cello melody in D minor')")
        cond, truncated = encode_text([prompt], self.cfg.max_text_tokens)
        return cond, truncated[0]

    @torch.no_grad()
    def generate(self, prompt: str | TextCondition, n_frames: int, **kw: Any) -> np.ndarray:
        """Audio (mono, the codec's rate) for a prompt: `sample`, then the codec's decoder."""
        text = prompt if isinstance(prompt, TextCondition) else self.text(prompt)[0]
        return self.decode(self.sample(text, n_frames, **kw))

    @torch.no_grad()
    def edit(self, audio: np.ndarray, prompt: str | TextCondition, *, strength: float = 0.6, **kw: Any) -> np.ndarray:
        """A given audio moved towards a prompt (SDEdit): noised to `strength`, denoised under the prompt."""
        z = self.encode(audio)
        text = prompt if isinstance(prompt, TextCondition) else self.text(prompt)[0]
        y = self.decode(self.sample(text, z.shape[-1], start=z, strength=strength, **kw))
        return y[: len(audio)]

    # ---- the codec
    @property
    def codec(self) -> Any:
        if self._codec is None:
            from cadenza.audio.codec import codec_for

            self._codec = codec_for(self.cfg.codec, self.cfg.codec_id)
        return self._codec

    @torch.no_grad()
    def encode(self, audio: np.ndarray) -> torch.Tensor:
        """Mono audio at the codec's rate -> its continuous latent [1, D, T]."""
        x = self.codec.pad_to_frames(torch.as_tensor(np.asarray(audio, np.float32))[None, None])
        return self.codec.analysis(x)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        return self.codec.synthesis(z)[0, 0].numpy()
