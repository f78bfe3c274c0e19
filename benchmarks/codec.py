"""The neural codec against Opus and the VQ-VAE baseline, on held-out music, side by side in one run, with the
measures issue 15 asks for and its musts checked.

usage: python benchmarks/codec.py [--model codec] [--vqvae codec-vqvae] [--threads 1] [--seconds 8] [--jobs 2]
       python benchmarks/codec.py --ablation NAME=FOLDER ... [--all-sets] [--jobs 2] [--result NAME]
       python benchmarks/codec.py --swap codec-vocos codec-mel   (does the magnitude or the phase lose the pitch?)
       python benchmarks/codec.py --probe codec-vocos codec-mel  (is the pitch in the latent at all?)
       python benchmarks/codec.py --pitch-floor   (what the gross pitch error reads where the pitch is kept)

Three held-out sets, reported apart (valid and test splits only: pieces the codec never heard):
- `seen`: the instruments of the codec's training data, through FluidR3 (its training SoundFont);
- `unseen instruments`: alto sax, clean electric guitar, marimba, string ensemble, choir, accordion, through FluidR3;
- `unseen SoundFont`: the training instruments through MuseScore General Lite.

Rows: the codec at 0.5, 1.5, 3 and 6 kbps; its unquantized latent (the decoder's ceiling); the VQ-VAE; Opus at 6, 12
and 24 kbps (libopus spends about 5 kbps when asked for less at 16 kHz). Measures, averaged over clips:
- DAC's multi-scale mel distance, the multi-scale STFT distance (FFT 2048..64), SI-SDR (dB);
- pitch, on the monophonic clips, through an independent tracker (pYIN, not the CREPE the DDSP models use): the
  median |cents| over the input's voiced frames and the share of those frames off by more than 50 cents or left
  unvoiced (gross errors: a median hides them);
- onset smearing: the correlation of the output's onset strength with the input's (librosa);
- what 2 s of digital silence decodes to (peak and RMS, dBFS);
- a codes file's size per second at each bitrate; encode + decode real-time factor on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cadenza.audio.codec import Codec, VocosDecoder
from cadenza.audio.codec_train import codebook_usage, codec_round_trip, write_codes
from cadenza.audio.datasets import read_manifest, render_dataset
from cadenza.audio.dsp import f0_pyin, mel_distance, multiscale_spectral_distance, si_sdr
from cadenza.audio.opus import opus_round_trip
from cadenza.core.audio import AudioClip
from cadenza.io.audio import read_audio

from common import write_result

CACHE = Path.home() / ".cache" / "cadenza" / "bench"
SR = 16000
SEEN = ["violin", "cello", "flute", "clarinet", "trumpet", "piano", "guitar", "oboe", "french horn", "organ"]
UNSEEN = ["alto sax", "electric guitar (clean)", "marimba", "string ensemble 1", "choir aahs", "accordion"]

RoundTrip = Callable[[AudioClip], AudioClip]
ARCHITECTURE = ("encoder", "decoder", "latent_dim", "strides", "decoder_channels", "decoder_layers")  # ablation rows


def held_out(name: str, programs: list[str], seconds: float, soundfont: str | None = None,
             minutes: float = 40, seed: int = 0, train: bool = False) -> list[tuple[np.ndarray, bool]]:  # fmt: skip
    """(the first `seconds` of each held-out clip, whether it is monophonic); `train`: the set's train split
    instead (pieces the probe of `--probe` learns from)."""
    folder = CACHE / name
    if not (folder / "manifest.jsonl").exists():
        render_dataset(["essen", "bach"], list(programs), folder, minutes=minutes, seed=seed, soundfont=soundfont,
                       progress=False)  # fmt: skip
    out = []
    for e in read_manifest(folder):
        if (e["split"] == "train") == train:
            x = read_audio(folder / e["file"], sample_rate=SR, mono=True).samples[0][: round(seconds * SR)]
            out.append((x, int(e.get("n_parts", 1)) == 1))
    return out


_INPUT_F0: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}


def _f0_of_input(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pYIN of an input clip, once per clip (every row of the benchmark reads the same inputs)."""
    key = hashlib.sha1(x.tobytes()).digest()
    if key not in _INPUT_F0:
        _INPUT_F0[key] = f0_pyin(AudioClip(x, SR))
    return _INPUT_F0[key]


def pitch_errors(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(|cents| at the input's voiced frames, whether the output is unvoiced there), or None with too few voiced
    frames. An unvoiced output frame counts as 1200 cents: a gross error either way, but the two are told apart
    (noise where a tone should be, against a tone at the wrong pitch)."""
    f_in, p_in = _f0_of_input(x)
    f_out, p_out = f0_pyin(AudioClip(y, SR))
    n = min(len(f_in), len(f_out))
    voiced = p_in[:n] > 0.5
    if voiced.sum() < 20:
        return None
    cents = np.abs(1200 * np.log2(f_out[:n][voiced] / f_in[:n][voiced]))
    unvoiced = p_out[:n][voiced] <= 0.5
    cents[unvoiced] = 1200.0
    return cents, unvoiced


def onset_correlation(x: np.ndarray, y: np.ndarray) -> float:
    import librosa

    a = librosa.onset.onset_strength(y=x, sr=SR)
    b = librosa.onset.onset_strength(y=y[: len(x)], sr=SR)
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def measure(clips: list[tuple[np.ndarray, bool]], fn: RoundTrip, pitch: bool = True) -> dict[str, Any]:
    mel, stft, sdr, onsets, medians, gross, silent = [], [], [], [], [], [], []
    for x, mono in clips:
        out = fn(AudioClip(x, SR))
        y = np.asarray(out.samples[0][: len(x)], np.float32)
        y = np.pad(y, (0, len(x) - len(y)))
        yt, xt = torch.tensor(y), torch.tensor(x)
        mel.append(float(mel_distance(yt[None, None], xt[None, None], SR)))
        stft.append(float(multiscale_spectral_distance(yt, xt)))
        sdr.append(float(si_sdr(yt, xt)))
        onsets.append(onset_correlation(x, y))
        if pitch and mono:
            errors = pitch_errors(x, y)
            if errors is not None:
                cents, unvoiced = errors
                medians.append(float(np.median(cents)))
                gross.append(float((cents > 50).mean()))
                silent.append(float(unvoiced.mean()))
    row = {
        "mel_distance": round(float(np.mean(mel)), 4), "stft_distance": round(float(np.mean(stft)), 4),
        "si_sdr_db": round(float(np.mean(sdr)), 2), "onset_correlation": round(float(np.mean(onsets)), 3),
    }  # fmt: skip
    if medians:
        row |= {"pitch_median_cents": round(float(np.median(medians)), 1),
                "pitch_gross_share": round(float(np.mean(gross)), 3),
                "pitch_gross_share_output_unvoiced": round(float(np.mean(silent)), 3),
                "pitch_clips": len(medians)}  # fmt: skip
    return row


def unquantized(codec: Codec, clip: AudioClip) -> AudioClip:
    """The decoder fed the encoder's continuous latent: the ceiling that no bitrate can pass."""
    x = codec.pad_to_frames(torch.tensor(clip.samples)[None])
    with torch.no_grad():
        y = codec.synthesis(codec.analysis(x))
    return AudioClip(y[0, :, : clip.n_samples].numpy(), SR)


def rows_for(codec: Codec, vqvae: Codec | None) -> dict[str, RoundTrip]:
    rows: dict[str, RoundTrip] = {}
    for kbps in (0.5, 1.5, 3.0, 6.0):
        k = codec.cfg.codebooks_for(kbps)
        rows[f"codec {codec.cfg.kbps(k):g} kbps ({k} codebooks)"] = lambda c, kb=kbps: codec_round_trip(codec, c, kb)

    rows["codec, unquantized latent (the decoder's ceiling)"] = lambda c: unquantized(codec, c)
    if vqvae is not None:
        rows[f"VQ-VAE {vqvae.cfg.kbps():g} kbps"] = lambda c: codec_round_trip(vqvae, c)
    for kbps in (6.0, 12.0, 24.0):
        rows[f"Opus {kbps:g} kbps"] = lambda c, kb=kbps: opus_round_trip(c, kb).audio
    return rows


_MODELS: dict[tuple[str, str | None], tuple[Codec, Codec | None]] = {}


def _row(model: str, vqvae: str | None, row: str, clips: list[tuple[np.ndarray, bool]]) -> dict[str, Any]:
    """One row of the full run on one set, in a worker process (each worker loads the codecs once)."""
    torch.set_num_threads(1)
    if (model, vqvae) not in _MODELS:
        _MODELS[(model, vqvae)] = (Codec.from_pretrained(model), Codec.from_pretrained(vqvae) if vqvae else None)
    return measure(clips, rows_for(*_MODELS[(model, vqvae)])[row])


def full_rows(model: str, vqvae: str | None, names: list[str], sets: dict[str, list[tuple[np.ndarray, bool]]],
              jobs: int) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The rows `names` on every set, `jobs` (set, row) pairs at a time, one core each; the same figures as one
    process."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        todo = {(s, r): pool.submit(_row, model, vqvae, r, clips) for s, clips in sets.items() for r in names}
        return {s: {r: todo[(s, r)].result() for r in names} for s in sets}


def silence(codec: Codec) -> dict[str, float]:
    y = codec_round_trip(codec, AudioClip(np.zeros(2 * SR, np.float32), SR)).samples[0]
    peak = float(np.abs(y).max())
    rms = float(np.sqrt(np.mean(y**2)))
    return {
        "peak_dbfs": round(20 * np.log10(max(peak, 1e-12)), 1),
        "rms_dbfs": round(20 * np.log10(max(rms, 1e-12)), 1),
    }


def codes_file_kbps(codec: Codec, clip: np.ndarray) -> dict[str, float]:
    out = {}
    x = torch.tensor(clip)[None, None]
    with tempfile.TemporaryDirectory() as tmp:
        for kbps in (0.5, 1.5, 3.0, 6.0):
            k = codec.cfg.codebooks_for(kbps)
            path = write_codes(Path(tmp) / "c.codes", codec.encode_chunked(x, k), codec, len(clip))
            out[f"{codec.cfg.kbps(k):g} kbps"] = round(8 * path.stat().st_size / (len(clip) / SR) / 1000, 3)
    return out


def musts(results: dict[str, dict[str, Any]], codec: Codec) -> dict[str, Any]:
    """Issue 15's musts, checked on each set."""
    names = {kbps: f"codec {codec.cfg.kbps(codec.cfg.codebooks_for(kbps)):g} kbps "
                   f"({codec.cfg.codebooks_for(kbps)} codebooks)" for kbps in (0.5, 1.5, 3.0, 6.0)}  # fmt: skip
    out: dict[str, Any] = {}
    for set_name, rows in results.items():
        mel = [rows[names[k]]["mel_distance"] for k in (0.5, 1.5, 3.0, 6.0)]
        six, opus12 = rows[names[6.0]], rows["Opus 12 kbps"]
        three = rows[names[3.0]]
        out[set_name] = {
            "every_codebook_step_lowers_mel": all(b < a for a, b in zip(mel, mel[1:])),
            "mel_6kbps_15pct_below_1.5kbps": mel[3] <= 0.85 * mel[1],
            "6kbps_beats_opus_12kbps_mel_and_stft": six["mel_distance"] < opus12["mel_distance"]
            and six["stft_distance"] < opus12["stft_distance"],
            "3kbps_pitch_median_under_20_cents_and_gross_under_5pct": bool(
                three.get("pitch_median_cents", 1e9) < 20 and three.get("pitch_gross_share", 1.0) < 0.05
            ),
            "aim_si_sdr_above_0db_at_6kbps": six["si_sdr_db"] > 0,
        }
    return out


def realtime(codec: Codec, x: torch.Tensor) -> dict[str, float]:
    """Seconds of audio per second of encode, of decode and of both (whole-file, chunked)."""
    codec.decode_chunked(codec.encode_chunked(x[..., :SR]))  # warm-up
    t0 = time.perf_counter()
    codes = codec.encode_chunked(x)
    t1 = time.perf_counter()
    codec.decode_chunked(codes)
    t2 = time.perf_counter()
    seconds = x.shape[-1] / SR
    return {"encode": round(seconds / (t1 - t0), 1), "decode": round(seconds / (t2 - t1), 1),
            "encode_plus_decode": round(seconds / (t2 - t0), 1)}  # fmt: skip


@torch.no_grad()
def streamed_realtime(codec: Codec, x: torch.Tensor, frames: int) -> dict[str, float]:
    """encode + decode block by block (blocks of `frames` frames, as live): real-time factor and latency."""
    hop = codec.cfg.hop
    x = codec.pad_to_frames(x)
    t0 = time.perf_counter()
    with codec.stream():
        for i in range(0, x.shape[-1], frames * hop):
            codec.decode(codec.encode(x[..., i : i + frames * hop]))
    dt = time.perf_counter() - t0
    return {"streamed_block_ms": 1000 * frames * hop / SR,
            "streamed_encode_plus_decode": round(x.shape[-1] / SR / dt, 1),
            "streamed_latency_ms": 1000 * (frames * hop + codec.delay) / SR}  # fmt: skip


def speeds(codec: Codec, x: torch.Tensor) -> dict[str, Any]:
    """Encode + decode real-time factors on one core, of this codec and of its causal variant of the same size (an
    untrained one serves: speed does not depend on the weights; a Vocos decoder's iSTFT frames overlap the next, so
    a Vocos codec's causal variant has the transposed-convolution decoder, and a note-codebook codec's has learned
    codes only: the note's pitch salience looks ahead)."""
    torch.set_num_threads(1)
    causal = Codec(replace(codec.cfg, causal=True, decoder="conv", note_codebook=False)).eval()
    return {
        "realtime_factor_1_core": realtime(codec, x),
        "realtime_factor_1_core_causal": {"decoder": causal.cfg.decoder, **realtime(causal, x),
                                          **streamed_realtime(causal, x, 1)},
    }  # fmt: skip


def opus_arm(sets: dict[str, list[tuple[np.ndarray, bool]]]) -> dict[str, Any]:
    torch.set_num_threads(1)
    return {n: measure(clips, lambda c: opus_round_trip(c, 12.0).audio) for n, clips in sets.items()}


def ablation_arm(folder: str, sets: dict[str, list[tuple[np.ndarray, bool]]]) -> dict[str, Any]:
    """One codec's rows: the unquantized ceiling, 1.5, 2, 3 and 6 kbps on every set; its steps, minutes, speed."""
    torch.set_num_threads(1)
    x = torch.tensor(np.concatenate([c for c, _ in sets["seen"]])[: 10 * SR])[None, None]
    codec = Codec.from_pretrained(folder)
    trips: dict[str, RoundTrip] = {"unquantized": lambda c, m=codec: unquantized(m, c)}
    for kbps in (1.5, 2.0, 3.0, 6.0):  # 2 kbps: the four codebooks that the token models read
        trips[f"{kbps:g} kbps"] = lambda c, kb=kbps, m=codec: codec_round_trip(m, c, kb)
    f = codec.figures
    return {
        "config": {k: v for k, v in asdict(codec.cfg).items() if k in ARCHITECTURE},
        "steps": f.get("steps"), "train_minutes": round(f.get("train_seconds", 0) / 60, 1),
        "parameters_millions": round(sum(p.numel() for p in codec.parameters()) / 1e6, 2),
        "encode_plus_decode_realtime_1_core": realtime(codec, x)["encode_plus_decode"],
        "silence_decodes_to": silence(codec),
        **{n: {row: measure(clips, fn) for row, fn in trips.items()} for n, clips in sets.items()},
    }  # fmt: skip


def ablation(arms: list[str], sets: dict[str, list[tuple[np.ndarray, bool]]], name: str = "codec_ablation",
             jobs: int = 1) -> None:  # fmt: skip
    """Codecs trained side by side (NAME=FOLDER each): 1.5, 2, 3 and 6 kbps and the unquantized ceiling on the
    held-out sets, beside Opus 12 kbps, with each arm's steps and minutes from its card; `jobs` arms at a time, one
    core each (the real-time factors are then taken side by side)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        opus = pool.submit(opus_arm, sets)
        rows = {label: pool.submit(ablation_arm, folder, sets) for label, folder in (a.split("=", 1) for a in arms)}
        out: dict[str, Any] = {"Opus 12 kbps": opus.result(), **{label: r.result() for label, r in rows.items()}}
    for label in rows:
        print(label, json.dumps(out[label]["seen"]))
    command = "python benchmarks/codec.py --ablation " + " ".join(arms)
    if name != "codec_ablation":
        command += f" --result {name} --all-sets"
    write_result(name, {"arms": out, "jobs": jobs}, command=command + (f" --jobs {jobs}" if jobs > 1 else ""))


def spectrum_swaps(codec: Codec, kbps: float = 6.0) -> dict[str, RoundTrip]:
    """A Vocos decoder's STFT frames with one half swapped for the input's: does its magnitude or its phase lose
    the pitch? Rows: its own frames; its magnitudes with the input's phase; the input's magnitudes with its phase;
    the input's magnitudes with each bin's centre frequency for phase (no phase information at all)."""
    dec = codec.decoder
    if not isinstance(dec, VocosDecoder):
        raise SystemExit(f"--swap: {codec.cfg.decoder} decoder has no STFT frames to swap (a vocos decoder has)")
    k = codec.cfg.codebooks_for(kbps)

    def frames(clip: AudioClip) -> tuple[torch.Tensor, torch.Tensor]:
        x = codec.pad_to_frames(torch.tensor(clip.samples)[None])
        with torch.no_grad():
            own = dec.spectrum(codec.quantizer.decode(codec.encode(x, k)))
            true = dec.stft(x[:, 0])
        t = min(own.shape[1], true.shape[1])
        return own[:, :t], true[:, :t]

    def trip(mix: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> RoundTrip:
        def run(clip: AudioClip) -> AudioClip:
            own, true = frames(clip)
            return AudioClip(dec.istft(mix(own, true))[:, : clip.n_samples].numpy(), SR)

        return run

    def centre_phase(t: int, bins: int) -> torch.Tensor:
        return (2 * np.pi * dec.hop / dec.n_fft) * torch.arange(t)[:, None] * torch.arange(bins)[None]

    return {
        f"decoded, {codec.cfg.kbps(k):g} kbps": trip(lambda own, true: own),
        "decoded magnitude, input phase": trip(lambda own, true: torch.polar(own.abs(), true.angle())),
        "input magnitude, decoded phase": trip(lambda own, true: torch.polar(true.abs(), own.angle())),
        "input magnitude, bin-centre phase": trip(
            lambda own, true: torch.polar(true.abs(), centre_phase(true.shape[1], true.shape[2])[None])
        ),
    }


def pitch_floor(sets: dict[str, list[tuple[np.ndarray, bool]]]) -> None:
    """`--pitch-floor`: what the gross-error measure reads on outputs that keep the pitch by construction (the
    input itself, noise 60 dB below it, a gain of -6 dB, a one-sample delay) and on Opus at 24 and 12 kbps, with the
    share of "no tone" (output unvoiced) and of wrong notes (voiced, off by more than 50 cents) apart. Writes
    results/codec_pitch_floor.json."""
    rng = np.random.default_rng(0)

    def noise(x: np.ndarray) -> np.ndarray:
        return x + rng.standard_normal(len(x)).astype(np.float32) * np.sqrt(np.mean(x**2)) * 1e-3

    arms: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "the input itself": lambda x: x,
        "noise 60 dB below": noise,
        "gain -6 dB": lambda x: 0.5 * x,
        "delayed one sample": lambda x: np.concatenate([[0.0], x[:-1]]).astype(np.float32),
        "Opus 24 kbps": lambda x: opus_round_trip(AudioClip(x, SR), 24).audio.samples[0],
        "Opus 12 kbps": lambda x: opus_round_trip(AudioClip(x, SR), 12).audio.samples[0],
    }
    out: dict[str, Any] = {}
    for name, clips in sets.items():
        out[name] = {}
        for arm, fn in arms.items():
            gross, none = [], []
            for x in (x for x, mono in clips if mono):
                y = np.asarray(fn(x), np.float32)[: len(x)]
                errors = pitch_errors(x, np.pad(y, (0, len(x) - len(y))))
                if errors is not None:
                    gross.append(float((errors[0] > 50).mean()))
                    none.append(float(errors[1].mean()))
            out[name][arm] = {"pitch_gross_share": round(float(np.mean(gross)), 3),
                              "of_which_no_tone": round(float(np.mean(none)), 3),
                              "of_which_wrong_note": round(float(np.mean(gross) - np.mean(none)), 3),
                              "clips": len(gross)}  # fmt: skip
            print(name, arm, out[name][arm], flush=True)
    write_result("codec_pitch_floor", out, command="python benchmarks/codec.py --pitch-floor")


def swaps(models: list[str], sets: dict[str, list[tuple[np.ndarray, bool]]]) -> None:
    """`--swap`: each model's spectrum swaps on the monophonic clips of each set; writes results/codec_swap.json."""
    mono = {name: [(x, m) for x, m in clips if m] for name, clips in sets.items()}
    out: dict[str, Any] = {"monophonic_clips": {name: len(clips) for name, clips in mono.items()}}
    for name in models:
        codec = Codec.from_pretrained(name).eval()
        out[name] = {s: {row: measure(clips, fn) for row, fn in spectrum_swaps(codec).items()}
                     for s, clips in mono.items()}  # fmt: skip
        print(name, json.dumps(out[name], indent=1))
    write_result("codec_swap", out, command="python benchmarks/codec.py --swap " + " ".join(models))


def picture(
    models: list[str], clips: list[tuple[np.ndarray, bool]], index: int, kbps: float = 6.0, seconds: float = 4.0
) -> Path:
    """Spectrograms of one monophonic held-out clip (the `index`-th) and of each codec's decoding of it at `kbps`:
    whether the partials follow the notes is seen at a glance (results/codec_spectrograms.png)."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [c for c, mono in clips if mono][index][: round(seconds * SR)]
    rows = [("input", x)]
    for name in models:  # a codec model, or "opus:KBPS"
        if name.startswith("opus:"):
            y = opus_round_trip(AudioClip(x, SR), float(name[5:])).audio.samples[0]
            rows.append((f"Opus at {name[5:]} kbps", y[: len(x)]))
            continue
        codec = Codec.from_pretrained(name)
        rows.append((f"{name} at {kbps:g} kbps", codec_round_trip(codec, AudioClip(x, SR), kbps).samples[0][: len(x)]))
    errors = [None] + [pitch_errors(x, np.asarray(y, np.float32)) for _, y in rows[1:]]
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 2.2 * len(rows)), sharex=True)
    for ax, (name, y), err in zip(axes, rows, errors):
        spec = librosa.amplitude_to_db(np.abs(librosa.stft(np.asarray(y, np.float32), n_fft=2048, hop_length=256)),
                                       ref=np.max)  # fmt: skip
        top = 400  # bins: 0-3.1 kHz
        ax.imshow(spec[:top], origin="lower", aspect="auto", vmin=-80, vmax=0, cmap="magma",
                  extent=(0, len(x) / SR, 0, top * SR / 2048))  # fmt: skip
        if err is not None:
            name += f": {np.mean(err[0] > 50):.0%} of voiced frames off by > 50 cents ({np.mean(err[1]):.0%} no tone)"
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    out = Path(__file__).parent / "results" / "codec_spectrograms.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def _probe_features(codec: Codec, x: np.ndarray, context: int = 2) -> dict[str, np.ndarray]:
    """Per codec frame: the encoder's latent, its quantization at 6 kbps, on its first codebook alone and on its
    first two (what VampNet's `codebooks:1` and `codebooks:2` prompts keep) and the input's log-mel at the same hop
    (what the latent could hold), each with `context` frames either side."""
    from cadenza.audio.dsp import mel_spectrogram

    t = codec.pad_to_frames(torch.tensor(x)[None, None])
    with torch.no_grad():
        mel = mel_spectrogram(t[:, 0], SR, n_fft=1024, hop=codec.cfg.hop, n_mels=128)[0].T
        codes = codec.encode(t, codec.cfg.codebooks_for(6.0))
        feats = {"latent": codec.analysis(t)[0].T, "quantized, 6 kbps": codec.quantizer.decode(codes)[0].T,
                 "quantized, first codebook": codec.quantizer.decode(codes[:, :1])[0].T,
                 "quantized, first 2 codebooks": codec.quantizer.decode(codes[:, :2])[0].T,
                 "input log-mel": torch.log(mel + 1e-5)}  # fmt: skip
    n = min(len(f) for f in feats.values())
    out = {}
    for name, f in feats.items():
        a = np.pad(f[:n].numpy(), ((context, context), (0, 0)), mode="edge")
        out[name] = np.concatenate([a[i : i + n] for i in range(2 * context + 1)], 1)
    return out


def _probe_notes(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    """The input's MIDI note per codec frame by pYIN (-1 where unvoiced)."""
    f0, prob = _f0_of_input(x)  # 100 frames/s
    i = np.minimum((np.arange(n) * hop / SR * 100).astype(int), len(f0) - 1)
    return np.where(prob[i] > 0.5, np.round(69 + 12 * np.log2(f0[i] / 440)), -1).astype(int)


def _first_code_holds(codec: Codec, clips: list[np.ndarray]) -> dict[str, float]:
    """Of consecutive frame pairs where pYIN hears the same note, the share whose first-codebook code is the same
    too; beside it, the share over all pairs."""
    same_note, held, same_all, pairs = 0, 0, 0, 0
    for x in clips:
        t = codec.pad_to_frames(torch.tensor(x)[None, None])
        with torch.no_grad():
            c = codec.encode(t, 1)[0, 0].numpy()
        notes = _probe_notes(x, len(c), codec.cfg.hop)
        keep = (notes[1:] >= 0) & (notes[1:] == notes[:-1])
        same = c[1:] == c[:-1]
        same_note += int(keep.sum())
        held += int((same & keep).sum())
        same_all += int(same.sum())
        pairs += len(same)
    return {"first_code_same_while_note_same": round(held / max(same_note, 1), 3),
            "first_code_same_any_two_frames": round(same_all / max(pairs, 1), 3)}  # fmt: skip


def probe(models: list[str], train: list[np.ndarray], sets: dict[str, list[np.ndarray]],
          result: str = "codec_probe") -> None:  # fmt: skip
    """`--probe`: is the pitch in a codec's latent? A small MLP learns each voiced frame's MIDI note (pYIN of the
    input) from 5 frames of the latent, of its quantization (6 kbps, the first codebook, the first two), and of the
    input's log-mel (the reference), on the train split of the seen set; its accuracy on the held-out clips says how
    much of the tune the encoder keeps, whatever the decoder makes of it. Also: how often the first codebook's code
    stays the same from one frame to the next while the note does (a code that holds a note is what a masked token
    model can fill between kept frames). Writes results/`result`.json."""

    def frames(codec: Codec, clips: list[np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        feats, notes = [], []
        for x in clips:
            f = _probe_features(codec, x)
            n = len(next(iter(f.values())))
            feats.append(f)
            notes.append(_probe_notes(x, n, codec.cfg.hop))
        y = np.concatenate(notes)
        return {k: np.concatenate([f[k] for f in feats])[y >= 0] for k in feats[0]}, y[y >= 0]

    out: dict[str, Any] = {"train_clips": len(train), "clips": {s: len(c) for s, c in sets.items()}}
    reference: dict[int, dict[str, float]] = {}  # the input log-mel's row, by hop: the same for every codec
    for name in models:
        codec = Codec.from_pretrained(name).eval()
        x_tr, y_tr = frames(codec, train)
        tests = {s: frames(codec, clips) for s, clips in sets.items()}
        out[name] = {f"{s}: {k}": v for s, clips in sets.items() for k, v in _first_code_holds(codec, clips).items()}
        print(name, out[name], flush=True)
        for feat in x_tr:
            if feat == "input log-mel" and codec.cfg.hop in reference:
                out[name][feat] = reference[codec.cfg.hop]
                continue
            torch.manual_seed(0)
            mu, sd = x_tr[feat].mean(0), x_tr[feat].std(0) + 1e-5
            xs, ys = torch.tensor((x_tr[feat] - mu) / sd, dtype=torch.float32), torch.tensor(y_tr)
            net = torch.nn.Sequential(torch.nn.Linear(xs.shape[1], 512), torch.nn.GELU(), torch.nn.Linear(512, 512),
                                      torch.nn.GELU(), torch.nn.Linear(512, 128))  # fmt: skip
            opt = torch.optim.Adam(net.parameters(), 1e-3)
            for _ in range(3000):
                i = torch.randint(0, len(xs), (256,))
                loss = torch.nn.functional.cross_entropy(net(xs[i]), ys[i])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                row = {"train_accuracy": round(float((net(xs).argmax(1) == ys).float().mean()), 3)}
                for s, (xt, yt) in tests.items():
                    guess = net(torch.tensor((xt[feat] - mu) / sd, dtype=torch.float32)).argmax(1).numpy()
                    row[f"{s}: note right"] = round(float((guess == yt).mean()), 3)
                    row[f"{s}: within a semitone"] = round(float((np.abs(guess - yt) <= 1).mean()), 3)
            out[name][feat] = row
            if feat == "input log-mel":
                reference[codec.cfg.hop] = row
            print(name, feat, row, flush=True)
    write_result(result, out, command=f"python benchmarks/codec.py --probe {' '.join(models)} --result {result}")


def note_accuracy(models: list[str], sets: dict[str, list[np.ndarray]], result: str) -> Path:
    """Note-codebook codecs: how often the first code is pYIN's note (frames pYIN hears as voiced with confidence
    over 0.5, the note rounded to the semitone), its octave errors, and what pYIN hears when the note codes alone are
    decoded (the same frames, output voiced too); and which codes the decoder takes the pitch from when they
    disagree: the token models' four codebooks with the residual codes rolled by one second, on the frames where the
    note there and the note the residual codes came from differ by a semitone or more."""
    from cadenza.audio.codec import SALIENCE_NOTES, note_codes

    figures: dict[str, Any] = {name: len(clips) for name, clips in sets.items()}
    for model in models:
        codec = Codec.from_pretrained(model).eval()
        if not codec.cfg.note_codebook:
            raise SystemExit(f"{model}: has no note codebook")
        for name, clips in sets.items():
            code, heard, follows = [], [], []
            shift = SR // codec.cfg.hop  # one second of frames
            for x in clips:
                f0, conf = _f0_of_input(x)
                f0, conf = f0[::2], conf[::2]  # pYIN's 100 frames per second -> the codec's 50
                notes = note_codes(torch.tensor(x)[None, None], SR, codec.cfg.hop)
                y = codec.decode(notes[:, None])[0].numpy()
                fy, cy = f0_pyin(AudioClip(y, SR))
                fy, cy = fy[::2], cy[::2]
                n = min(notes.shape[-1], len(f0), len(fy))
                f0, conf, fy, cy, note = f0[:n], conf[:n], fy[:n], cy[:n], notes[0, :n].numpy()
                ok = (conf > 0.5) & (note > 0)
                midi = 69 + 12 * np.log2(f0 / 440)
                code.append(note[ok] - 1 + SALIENCE_NOTES[0] - midi[ok])
                both = ok & (cy > 0.5)
                heard.append(12 * np.log2(fy[both] / f0[both]))
                codes = codec.encode(torch.tensor(x)[None, None], 4)
                codes[:, 1:] = torch.roll(codes[:, 1:], shift, -1)
                fm, cm = f0_pyin(AudioClip(codec.decode(codes)[0].numpy(), SR))
                fm, cm = fm[::2][:n], cm[::2][:n]
                fr, cr = np.roll(f0, shift), np.roll(conf, shift)
                apart = (conf > 0.5) & (cr > 0.5) & (cm > 0.5) & (np.abs(12 * np.log2(fr / f0)) >= 1)
                follows.append(np.stack([12 * np.log2(fm[apart] / f0[apart]), 12 * np.log2(fm[apart] / fr[apart])]))
            d, h, m = np.concatenate(code), np.concatenate(heard), np.abs(np.concatenate(follows, 1)) < 0.5
            figures[f"{model}: {name}"] = {
                "frames": len(d),
                "note code right (within half a semitone of pYIN)": round(float(np.mean(np.abs(d) < 0.5)), 3),
                "note code an octave above": round(float(np.mean(np.abs(d - 12) < 0.5)), 3),
                "note code an octave below": round(float(np.mean(np.abs(d + 12) < 0.5)), 3),
                "note codes alone decoded: frames voiced": len(h),
                "note codes alone decoded: right": round(float(np.mean(np.abs(h) < 0.5)), 3),
                "note codes alone decoded: median semitones off": round(float(np.median(h)), 2),
                "residual codes of 1 s later: frames where their note differs": m.shape[1],
                "residual codes of 1 s later: output at the note codes' pitch": round(float(m[0].mean()), 3),
                "residual codes of 1 s later: output at the residual codes' pitch": round(float(m[1].mean()), 3),
            }
    return write_result(result, figures, command=f"python benchmarks/codec.py --note-accuracy {' '.join(models)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="codec")
    ap.add_argument("--vqvae", default="codec-vqvae")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8.0, help="seconds of each held-out clip (from its start)")
    ap.add_argument(
        "--ablation",
        nargs="+",
        metavar="NAME=FOLDER",
        help="compare codecs trained side by side instead (writes results/codec_ablation.json)",
    )
    ap.add_argument("--result", help="the results file's name (default codec, or codec_ablation with --ablation, "
                    "codec_probe with --probe)")  # fmt: skip
    ap.add_argument("--all-sets", action="store_true", help="--ablation: the unseen instruments too")
    ap.add_argument(
        "--jobs", type=int, default=1, help="arms (--ablation) or rows (the full run) measured at once, one core each"
    )
    ap.add_argument("--pitch-floor", action="store_true",
                    help="what the gross pitch error reads on outputs that keep the pitch (the input, a little "
                    "noise, a gain, a delay) and on Opus 24 and 12 kbps (results/codec_pitch_floor.json)")  # fmt: skip
    ap.add_argument("--swap", nargs="+", metavar="MODEL",
                    help="Vocos-decoder codecs: their STFT magnitude or phase swapped for the input's, on the "
                    "monophonic clips (writes results/codec_swap.json)")  # fmt: skip
    ap.add_argument("--picture", nargs="+", metavar="MODEL",
                    help="spectrograms of a monophonic held-out clip of seen instruments and of its decoding by each "
                    "codec at 6 kbps (or by Opus: opus:KBPS) (writes results/codec_spectrograms.png)")  # fmt: skip
    ap.add_argument("--clip", type=int, default=1, help="--picture: which monophonic clip (default 1: an oboe)")
    ap.add_argument("--probe", nargs="+", metavar="MODEL",
                    help="is the pitch in each codec's latent? an MLP probe's note accuracy from its latent, against "
                    "the input's log-mel (writes results/codec_probe.json)")  # fmt: skip
    ap.add_argument("--note-accuracy", nargs="+", metavar="MODEL",
                    help="note-codebook codecs: is the first code pYIN's note, what do the notes alone decode to, "
                    "and does the pitch follow them or the residual codes? "
                    "(writes results/codec_note_accuracy.json)")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seen = held_out("multi-40min-seed0", SEEN, args.seconds)
    if args.picture:  # the seen set only: the others are not rendered for it
        print("wrote", picture(args.picture, seen, args.clip))
        return
    sets = {
        "seen": seen,
        "unseen instruments": held_out("unseen-instruments-20min-seed3", UNSEEN, args.seconds, minutes=20, seed=3),
        "unseen SoundFont": held_out("seen-musescore-20min-seed4", SEEN, args.seconds, soundfont="musescore",
                                     minutes=20, seed=4),
    }  # fmt: skip
    if args.probe:
        mono = {s: [x for x, m in sets[s] if m] for s in ("seen", "unseen instruments")}
        train = [x for x, m in held_out("multi-40min-seed0", SEEN, args.seconds, train=True) if m][:60]
        probe(args.probe, train, mono, args.result or "codec_probe")
        return
    if args.note_accuracy:
        mono_sets = {s: [x for x, m in sets[s] if m] for s in sets}
        print("wrote", note_accuracy(args.note_accuracy, mono_sets, "codec_note_accuracy"))
        return
    if args.pitch_floor:
        pitch_floor({"seen": sets["seen"], "unseen instruments": sets["unseen instruments"]})
        return
    if args.swap:
        swaps(args.swap, {"seen": sets["seen"], "unseen instruments": sets["unseen instruments"]})
        return
    if args.ablation:
        chosen = sets if args.all_sets else {"seen": sets["seen"], "unseen SoundFont": sets["unseen SoundFont"]}
        ablation(args.ablation, chosen, args.result or "codec_ablation", args.jobs)
        return
    codec = Codec.from_pretrained(args.model)
    vqvae = Codec.from_pretrained(args.vqvae) if args.vqvae else None
    all_clips = [x for clips in sets.values() for x, _ in clips]
    speed = speeds(codec, torch.tensor(np.concatenate(all_clips)[: 30 * SR])[None, None])  # first: seconds, not minutes
    trips = rows_for(codec, vqvae)
    if args.jobs > 1:
        results = full_rows(args.model, args.vqvae, list(trips), sets, args.jobs)
    else:
        results = {name: {row: measure(clips, fn) for row, fn in trips.items()} for name, clips in sets.items()}
    figures: dict[str, Any] = {
        "clips": {name: len(clips) for name, clips in sets.items()},
        "monophonic_clips": {name: sum(m for _, m in clips) for name, clips in sets.items()},
        "seconds_per_clip": args.seconds,
        "rows": results,
        "musts": musts(results, codec),
        "silence_decodes_to": silence(codec),
        "codes_file_kbps_with_header": codes_file_kbps(codec, all_clips[0]),
        "codebook_usage": codebook_usage(codec, all_clips),
        **speed,
    }
    command = "python benchmarks/codec.py" + (f" --model {args.model}" if args.model != "codec" else "")
    command += f" --result {args.result}" if args.result else ""
    write_result(args.result or "codec", figures, command=command + (f" --jobs {args.jobs}" if args.jobs > 1 else ""))
    print(figures["musts"])


if __name__ == "__main__":
    main()
