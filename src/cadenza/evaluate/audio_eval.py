"""`cadenza eval audio`: how close a folder of generated audio is to a folder of reference audio, through every
embedder cadenza has, and how well it follows its prompts (`cadenza.evaluate.audio_metrics` for the formulas).

    >>> report = evaluate_folders("out/generated", "out/reference", embedders=("clap", "mel"))
    >>> report["metrics"]["clap"]["fad"], report["metrics"]["clap"]["kad"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputError


def read_captions(path: str | Path, files: list[Path], root: Path) -> list[str]:
    """The caption of each generated file from a JSON-lines file of {"file": ..., "caption": ...} (file names
    relative to the generated folder, or bare names).

    Raises:
        InputError: unreadable lines, a line naming a clip that is not there, or a generated file without one.
    """
    return [str(v) for v in _read_jsonl(path, "caption", files, root)]


def read_pitches(path: str | Path, files: list[Path], root: Path) -> list[float]:
    """The pitch (MIDI) each generated file was asked for, from JSON lines {"file": ..., "pitch": ...}."""
    rows = _read_jsonl(path, "pitch", files, root)
    try:
        return [float(v) for v in rows]
    except (TypeError, ValueError):
        raise InputError(path, "a pitch is not a number (MIDI)") from None


def _read_jsonl(path: str | Path, key: str, files: list[Path], root: Path) -> list[Any]:
    """The `key` of each generated file from JSON lines {"file": ..., key: ...}, checked both ways."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, f"no such {key}s file")
    table: dict[str, Any] = {}
    for i, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            table[str(row["file"])] = row[key]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(p, f'line {i} is not {{"file": ..., "{key}": ...}}') from None
    names = {str(f.relative_to(root)) for f in files} | {f.name for f in files}
    missing = sorted(name for name in table if name not in names)
    if missing:
        raise InputError(p, f"names {len(missing)} clip(s) that are not in {root} (first: {missing[0]})")
    out = []
    for f in files:
        rel = str(f.relative_to(root))
        value = table.get(rel, table.get(f.name))
        if value is None:
            raise InputError(p, f"has no {key} for {rel}")
        out.append(value)
    return out


def median_pitches(clips: list[np.ndarray] | np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """The median MIDI pitch of each clip's confident CREPE-tiny frames (NaN where none is confident)."""
    from cadenza.audio.dsp import f0_crepe, hz_to_midi
    from cadenza.core.audio import AudioClip

    out = []
    for c in clips:
        c = np.asarray(c, dtype=np.float32)
        f0, conf = f0_crepe(AudioClip(c if c.ndim == 2 else c[None], sample_rate), 100, "tiny")
        ok = conf >= 0.5
        out.append(float(np.median(hz_to_midi(f0[ok]))) if ok.any() else float("nan"))
    return np.array(out)


def evaluate_folders(
    generated: str | Path,
    reference: str | Path,
    *,
    embedders: tuple[str, ...] = ("clap", "classifier"),
    captions: str | Path | None = None,
    pitch: bool = False,
    pitches: str | Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of the generated folder against the reference folder, per embedder. The default embedders are
    the two that order benchmarks/audio_eval.py's controlled ladder (renders, then the same with white noise at
    30, 20, 10 and 0 dB SNR, then noise alone) for FAD and KAD; `crepe` does not (it hears pitch, not noise) and
    `mel` ties its last two rungs.

    Returns:
        {"metrics": {EMBEDDER: {"fad", "fad_inf", "kad", "ndb_over_k", "outlier_share"}}, "kl": {...} (the
        classifier's labels), "clap_score": ... (with captions), "pitch": {...} (with `pitch`), "n_generated",
        "n_reference", "embedders": {name: what it is}, "notes": [files resampled, skipped, ...]}; `pitches` (JSON
        lines {file, pitch}) adds GANSynth's pitch accuracy.
    """
    from cadenza.audio.embed import audio_files, embed_files, get_embedder, read_clips
    from cadenza.evaluate.audio_metrics import fad, fad_inf, kad, kl_divergence, ndb, outliers

    gen_root, ref_root = Path(generated), Path(reference)
    gen_all, ref_all = audio_files(gen_root), audio_files(ref_root)
    caption_of = dict(zip(gen_all, read_captions(captions, gen_all, gen_root), strict=True)) if captions else {}
    target_of = dict(zip(gen_all, read_pitches(pitches, gen_all, gen_root), strict=True)) if pitches else {}
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {"metrics": {}, "embedders": {}, "notes": []}
    read: dict[int, tuple[Any, ...]] = {}
    for name in embedders:
        emb = get_embedder(name)
        if emb.sample_rate not in read:
            g = read_clips(gen_all, emb.sample_rate)
            r = read_clips(ref_all, emb.sample_rate)
            for what, (files, _, _) in (("generated", g), ("reference", r)):
                if len(files) < 2:
                    raise InputError(gen_root if what == "generated" else ref_root,
                                     f"needs at least 2 readable, non-silent clips; has {len(files)}")  # fmt: skip
            read[emb.sample_rate] = (g, r)
            report["notes"] += g[2] + r[2]
            report["n_generated"], report["n_reference"] = len(g[0]), len(r[0])
        (g_files, g_clips, _), (r_files, r_clips, _) = read[emb.sample_rate]
        G, R = embed_files(g_files, g_clips, emb), embed_files(r_files, r_clips, emb)
        report["embedders"][name] = emb.description
        report["metrics"][name] = {
            "fad": fad(G, R),
            "fad_inf": fad_inf(G, R, rng=rng)["fad_inf"] if len(G) >= 8 else None,
            "kad": kad(G, R),
            "ndb_over_k": ndb(G, R, k=min(10, len(R) // 2 or 1), rng=rng)["ndb_over_k"],
            "outlier_share": outliers(G, R)["share"],
        }
    (g_files, g_clips, _), (r_files, r_clips, _) = next(iter(read.values()))
    if "classifier" in embedders:
        from cadenza.audio.classifier import SoundClassifier

        clf = SoundClassifier.from_pretrained()
        pg, pr = clf.probabilities(g_clips), clf.probabilities(r_clips)
        kl = kl_divergence(pg, pr)
        if [f.name for f in g_files] != [f.name for f in r_files]:  # paired only clip for clip, by file name
            kl.pop("kl_paired", None)
        top = [clf.cfg.classes[i] for i in pg.argmax(1)]
        kl["generated_top_class"] = max(set(top), key=top.count)
        report["kl"] = kl
    if captions is not None:
        from cadenza.audio.clap import CLAP
        from cadenza.evaluate.audio_metrics import clap_score

        clap = CLAP.from_pretrained()
        texts = [caption_of[f] for f in g_files]
        report["clap_score"] = clap_score(clap.embed_text(texts), clap.embed_audio(g_clips))
    if pitch or pitches:
        from cadenza.evaluate.audio_metrics import pitch_accuracy, pitch_entropy

        pg, pr = median_pitches(g_clips), median_pitches(r_clips)
        report["pitch"] = {"entropy_generated_bits": pitch_entropy(pg[np.isfinite(pg)]),
                           "entropy_reference_bits": pitch_entropy(pr[np.isfinite(pr)]),
                           "unpitched_generated": float(np.isnan(pg).mean())}  # fmt: skip
        if target_of:  # GANSynth's pitch accuracy: the estimated pitch is the one asked for (unpitched: wrong)
            targets = np.array([target_of[f] for f in g_files])
            report["pitch"]["accuracy"] = pitch_accuracy(np.nan_to_num(pg, nan=-1.0), targets)
    return report
