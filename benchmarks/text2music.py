"""Text-to-music on held-out captions, in one run beside its ceiling and its controls: does the music follow the
prompt (instrument, tempo, key, CLAP score against shuffled prompts), how close is it to real renders (FAD / KAD),
does it follow a given melody, how fast does it play.

usage: python benchmarks/text2music.py [--model text2music-small] [--diffusion latent-diffusion-small]
                                      [--data /work/data/t2m-tempo] [--clips 24] [--seconds 8]
       python benchmarks/text2music.py --valid-loss MODEL [MODEL ...] --data FOLDER [FOLDER ...]
           (each model's held-out loss on the valid clips of the folders, as its training measured it)

Data: the set the model was trained on, rebuilt with the command on its card; its test split gives the prompts
(each clip's canonical caption: pieces, and so captions, the model never saw) and the `real` clips; its valid split
the reference set of FAD / KAD (other pieces). Every generation is `--seconds` long from nothing, seed = clip index.

Sets:
- `real`: the test clips themselves (what the measures read on true renders: the trackers' own ceiling);
- `codec`: the test clips coded and decoded at the model's codebooks (the ceiling of any model over these codes);
- `cfg_1`, `cfg_3`, `cfg_5`: generations from each caption at classifier-free guidance 1, 3 and 5;
- `cfg_3_no_beat` (a model with a beat clock): the same prompts without the clock (what the clock adds, same weights);
- `cfg_3_beat_guidance_B` (a model with a beat clock): the clock guided on its own at each `--beat-guidance` B (a
  third branch, the prompt without the clock: u + 3 (c - u) + B (c_clock - c), InstructPix2Pix's two coefficients):
  how much tempo is bought, and at what cost in instrument, CLAP score and FAD; `..._codebooks_K`: the same on the
  first `--beat-codebooks` K codebooks only (the coarse codes place the onsets; the finer keep the two-branch scores);
- `cfg_3_words_only` (a model that reads tempo and key, or has a beat clock): the same prompts with the parsed tempo
  and key zeroed and no clock, so that only the text encoder carries them (same weights);
- `baseline_cfg_3` (with `--baseline MODEL`): another text-to-music model on the same prompts, e.g. the one before a
  fine-tune;
- `shuffled`: the `cfg_3` outputs scored against another clip's caption (the control: what adherence reads when
  the prompt does not describe the audio);
- `diffusion_cfg_3`: the latent diffusion model on the same prompts (25 DDIM steps, guidance 3): the other family.

Prompts: each clip's canonical caption with its BPM appended (", 72 bpm"): the tempo word alone spans a range, and
the tempo is measured against the BPM.
Adherence: instrument accuracy by cadenza's sound classifier (the clips whose instrument is one of its classes);
tempo by librosa's beat tracker (share within 8% of the prompt's BPM, allowing double and half: the tracker's
octave errors are not the model's; and the correlation of the log tempo heard with the log tempo asked, raw, so
that the tracker's octave errors weigh: real clips read only about 0.3 on it), key and mode by Krumhansl-Kessler
profiles on the summed chromagram; CLAP score (cadenza's CLAP) of each output against its prompt.
Melody: each test clip's melody (dominant chroma bin per frame, MusicGen-melody's condition) given with the caption
of another clip (a model's beat clock at the melody's own tempo); the chroma cosine between the melody's chromagram
and the output's, frame by frame (MusicGen-melody reports 0.44 on MusicCaps), beside the same prompt without the
melody (control) and the codec's reconstruction of the melody clip (ceiling).
"Make it a cello" (Fugatto-style transformation, from the parts above): the test clips not played by a cello, each
asked to become "{its caption with the instrument a cello}" by the token model following the clip's melody (and its
tempo), and by
the diffusion model's SDEdit at strengths 0.5 and 0.7; the share the sound classifier calls a cello, and the chroma
cosine to the input (the tune kept), beside the input itself.
Speed on one core: seconds of audio per second (generation and decoding) with the key/value cache and recomputing
the attention band at every step; MusicGen's rate is 50 steps per second of audio, as here.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from cadenza.audio.datasets import read_manifest
from cadenza.audio.text2music import Text2Music, melody_bins
from cadenza.audio.text2music_train import caption_of
from cadenza.io.audio import read_audio

from common import write_result


def chroma(y: np.ndarray, sr: int, hop: int) -> np.ndarray:
    import librosa

    c = librosa.feature.chroma_stft(y=y, sr=sr, hop_length=hop, n_fft=2048, tuning=0.0)
    return c / np.maximum(np.linalg.norm(c, axis=0, keepdims=True), 1e-9)


def chroma_cosine(a: np.ndarray, b: np.ndarray, sr: int, hop: int) -> float:
    """Mean frame-wise cosine between the (per-frame normalized) chromagrams of two clips."""
    ca, cb = chroma(a, sr, hop), chroma(b, sr, hop)
    n = min(ca.shape[1], cb.shape[1])
    return float((ca[:, :n] * cb[:, :n]).sum(0).mean())


def tempo_ok(est: float, bpm: float) -> tuple[bool, float]:
    """A tracked tempo against the one asked: (within 8% of `bpm` at the tempo, double or half; relative error at the
    tempo itself)."""
    if est <= 0:
        return False, 1.0
    ok = any(abs(est * f - bpm) <= 0.08 * bpm for f in (0.5, 1.0, 2.0))
    return ok, abs(est - bpm) / bpm


def tracked_bpm(y: np.ndarray, sr: int) -> float:
    """librosa's beat tracker's tempo of a clip (its defaults)."""
    import librosa

    return float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=sr)[0])[0])


def key_of(y: np.ndarray, sr: int) -> tuple[int, str]:
    from cadenza.evaluate.key import key_correlations

    corr = key_correlations(chroma(y, sr, 512).sum(axis=1))
    best = max(corr, key=lambda k: corr[k])
    return best.tonic, best.mode


def adherence(clips: list[np.ndarray], entries: list[dict[str, Any]], sr: int, classifier: Any) -> dict[str, Any]:
    from cadenza.core.score import Key

    classes = list(classifier.cfg.classes)

    def klass(name: str) -> str | None:
        return name if name in classes else next((c for c in classes if name.startswith(c)), None)

    labelled = [(i, klass(e["instrument"])) for i, e in enumerate(entries)]
    labelled = [(i, c) for i, c in labelled if c is not None]
    probs = classifier.probabilities([clips[i] for i, _ in labelled])
    inst = float(np.mean([classes[int(p.argmax())] == c for p, (_, c) in zip(probs, labelled)]))
    asked = np.array([float(e["tempo_bpm"]) for e in entries])
    heard = np.array([tracked_bpm(y, sr) for y in clips])
    tempos = [tempo_ok(h, b) for h, b in zip(heard, asked)]
    corr = float(np.corrcoef(np.log(asked), np.log(np.maximum(heard, 1.0)))[0, 1])
    keys = [key_of(y, sr) for y in clips]
    truth = [Key.parse(e["key"]) for e in entries]
    return {"instrument_accuracy": round(inst, 3), "instrument_clips": len(labelled),
            "tempo_accuracy_8pct_octave": round(float(np.mean([t[0] for t in tempos])), 3),
            "tempo_rel_error_median": round(float(np.median([t[1] for t in tempos])), 3),
            "tempo_log_correlation": round(corr, 3),
            "key_accuracy": round(float(np.mean([k == (t.tonic, t.mode) for k, t in zip(keys, truth)])), 3),
            "mode_accuracy": round(float(np.mean([k[1] == t.mode for k, t in zip(keys, truth)])), 3)}  # fmt: skip


def make_it_a_cello(model: Text2Music, diffusion: Any, real: list[np.ndarray], entries: list[dict[str, Any]],
                    sr: int, hop: int, n: int, classifier: Any) -> dict[str, Any]:  # fmt: skip
    """Each non-cello clip turned into a cello: the share called a cello and the chroma cosine to the input."""
    cello = list(classifier.cfg.classes).index("Cello")
    picks = [(x, e) for x, e in zip(real, entries) if "cello" not in e["instrument"].lower()]
    outputs: dict[str, list[np.ndarray]] = {"input": [x for x, _ in picks], "token_model_melody": []}
    if diffusion is not None:
        outputs |= {"diffusion_sdedit_0.5": [], "diffusion_sdedit_0.7": []}
    for i, (x, e) in enumerate(picks):
        prompt = caption_of({**e, "instrument": "Cello", "program": 42}, None)
        bins = melody_bins(x, sr, model.cfg.frame_rate, n)
        codes = model.generate(prompt, n, melody=bins, guidance=3.0, seed=i, bpm=float(e["tempo_bpm"]))
        outputs["token_model_melody"].append(model.codec.decode_chunked(codes)[0, 0, : n * hop].numpy())
        if diffusion is not None:
            for s in (0.5, 0.7):
                outputs[f"diffusion_sdedit_{s:g}"].append(diffusion.edit(x, prompt, strength=s, steps=25, seed=i))
    out: dict[str, Any] = {"clips": len(picks)}
    for name, ys in outputs.items():
        probs = classifier.probabilities(ys)
        out[name] = {"called_cello": round(float(np.mean(probs.argmax(1) == cello)), 3),
                     "chroma_cosine_to_input": round(float(np.mean([chroma_cosine(x, y, sr, hop)
                                                                    for (x, _), y in zip(picks, ys)])), 3)}  # fmt: skip
    return out


def valid_loss(models: list[str], data: list[str], window: int, result: str) -> None:
    """`--valid-loss`: the training's own held-out measure for several models over the same codes: cross-entropy
    (nats per code) of fixed windows of the valid clips of every `data` folder with their canonical captions, and
    its controls (no prompt, another clip's caption, with the melody, without the parsed tempo and key, without the
    beat clock). The clips are coded once, by the first model's codec."""
    from cadenza.audio.text2music_train import beat_phases, encode_music, validation_loss

    labels = [m.split("=", 1)[0] for m in models]  # LABEL=PATH names a model folder in the result
    loaded = [Text2Music.from_pretrained(m.split("=", 1)[-1]) for m in models]
    first = loaded[0]
    for name, model in zip(labels[1:], loaded[1:]):
        if (model.cfg.codec_id, model.cfg.n_codebooks) != (first.cfg.codec_id, first.cfg.n_codebooks):
            raise SystemExit(f"{name}: reads other codes than {labels[0]}")
    clips = encode_music(data, first.cfg, first.codec, "valid", None)
    beat_phases(clips, first.cfg.frame_rate, first.codec.sample_rate, None)
    minutes = sum(c.codes.shape[-1] for c in clips) / first.cfg.frame_rate / 60
    uniform = round(float(np.log(first.cfg.cardinality)), 4)
    figures: dict[str, Any] = {"data": data, "valid_clips": len(clips), "valid_minutes": round(minutes, 1),
                               "window_frames": window, "uniform_loss": uniform}  # fmt: skip
    for name, model in zip(labels, loaded):
        with torch.no_grad():
            figures[name] = {k: round(v, 4) for k, v in validation_loss(model, clips, window).items()}
        print(name, figures[name], flush=True)
    quoted = " ".join(f"'{m}'" if " " in m else m for m in models)
    write_result(result, figures, command=f"python benchmarks/text2music.py --valid-loss {quoted} "
                                          f"--data {' '.join(data)} --window {window} --result {result}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="text2music-small")
    ap.add_argument("--diffusion", default="latent-diffusion-small", help="the latent diffusion model ('' for none)")
    ap.add_argument("--data", nargs="+", default=["/work/data/t2m-tempo"],
                    help="the render set (test and valid splits); with --valid-loss, every set trained on")  # fmt: skip
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--baseline", default="", help="another text-to-music model to generate from the same prompts")
    ap.add_argument("--beat-guidance", type=float, nargs="+", default=[16.0, 32.0, 64.0],
                    help="the beat clock's own guidance coefficients, an arm each (default 16 32 64)")  # fmt: skip
    ap.add_argument("--beat-codebooks", type=int, default=1,
                    help="also each --beat-guidance on the first K codebooks only (default 1)")  # fmt: skip
    ap.add_argument(
        "--valid-loss",
        nargs="+",
        metavar="MODEL",
        help="instead: each model's held-out loss on the --data sets' valid clips (or LABEL=DIR)",
    )
    ap.add_argument("--window", type=int, default=250, help="--valid-loss's window in frames (training's: 250)")
    ap.add_argument("--result", default="text2music")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.valid_loss:
        valid_loss(args.valid_loss, args.data, args.window,
                   args.result if args.result != "text2music" else "text2music_valid_loss")  # fmt: skip
        return
    data = args.data[0]
    from cadenza.audio.clap import CLAP
    from cadenza.audio.classifier import SoundClassifier
    from cadenza.audio.embed import get_embedder
    from cadenza.evaluate.audio_metrics import clap_score, fad, kad

    model = Text2Music.from_pretrained(args.model)
    codec, cfg = model.codec, model.cfg
    sr, hop = codec.sample_rate, codec.cfg.hop
    n = round(args.seconds * cfg.frame_rate)

    def load(split: str, limit: int) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        clips, entries = [], []
        for e in read_manifest(data, split):
            x = read_audio(f"{data}/{e['file']}", sample_rate=sr, mono=True).samples[0]
            if len(x) >= n * hop:
                clips.append(x[: n * hop])
                entries.append(e)
            if len(clips) == limit:
                break
        return clips, entries

    real, entries = load("test", args.clips)
    reference, _ = load("valid", 100)
    prompts = [f"{caption_of(e, None)}, {round(float(e['tempo_bpm']))} bpm" for e in entries]
    other = prompts[len(prompts) // 2 :] + prompts[: len(prompts) // 2]  # another clip's caption

    def decode(c: torch.Tensor) -> np.ndarray:
        return codec.decode_chunked(c)[0, 0, : n * hop].numpy()

    def encode(x: np.ndarray) -> torch.Tensor:
        return codec.encode_chunked(torch.tensor(x)[None, None], cfg.n_codebooks)

    sets: dict[str, list[np.ndarray]] = {"real": real, "codec": [decode(encode(x)) for x in real]}
    speed: dict[str, float] = {}
    model.generate(prompts[0], 10, seed=0)  # warm-up: the text encoder loads once, outside the timings
    for g in (1.0, 3.0, 5.0):
        t0 = time.perf_counter()
        sets[f"cfg_{g:g}"] = [decode(model.generate(p, n, guidance=g, seed=i)) for i, p in enumerate(prompts)]
        speed[f"audio_s_per_s_cfg_{g:g}"] = round(len(prompts) * args.seconds / (time.perf_counter() - t0), 2)
        print(f"cfg {g:g}: {speed}", flush=True)

    reads_tempo = model.attrs is not None or model.beat is not None
    encoded = [model.text(p)[0] for p in prompts] if reads_tempo else []  # encoded: no clock unless given a bpm
    if model.beat is not None:  # the same weights without the clock; and with the clock guided on its own
        sets["cfg_3_no_beat"] = [decode(model.generate(t, n, guidance=3.0, seed=i)) for i, t in enumerate(encoded)]
        for bg in args.beat_guidance:
            for ks in (None, args.beat_codebooks):
                arm = f"cfg_3_beat_guidance_{bg:g}" + ("" if ks is None else f"_codebooks_{ks}")
                t0 = time.perf_counter()
                sets[arm] = [decode(model.generate(p, n, guidance=3.0, seed=i, beat_guidance=bg, beat_codebooks=ks))
                             for i, p in enumerate(prompts)]  # fmt: skip
                speed[f"audio_s_per_s_{arm}"] = round(len(prompts) * args.seconds / (time.perf_counter() - t0), 2)
    if reads_tempo:  # the same weights, tempo and key left to the text encoder
        plain = [t if t.attrs is None else t._replace(attrs=torch.zeros_like(t.attrs)) for t in encoded]
        sets["cfg_3_words_only"] = [decode(model.generate(t, n, guidance=3.0, seed=i)) for i, t in enumerate(plain)]
    if args.baseline:
        base = Text2Music.from_pretrained(args.baseline)
        if base.cfg.codec_id != cfg.codec_id:
            raise SystemExit(f"{args.baseline} writes another codec's codes")
        sets["baseline_cfg_3"] = [decode(base.generate(p, n, guidance=3.0, seed=i)) for i, p in enumerate(prompts)]

    diffusion = None
    if args.diffusion:
        from cadenza.audio.latent_diffusion import LatentDiffusion

        diffusion = LatentDiffusion.from_pretrained(args.diffusion)
        t0 = time.perf_counter()
        sets["diffusion_cfg_3"] = [diffusion.generate(p, n, steps=25, guidance=3.0, seed=i)[: n * hop]
                                   for i, p in enumerate(prompts)]  # fmt: skip
        speed["audio_s_per_s_diffusion_25_steps"] = round(len(prompts) * args.seconds / (time.perf_counter() - t0), 2)

    figures: dict[str, Any] = {"model": args.model, "diffusion": args.diffusion, "baseline": args.baseline,
                               "codec_model": cfg.codec,
                               "codebooks": cfg.n_codebooks,
                               "clips": len(real), "seconds": args.seconds,
                               "reference_clips": len(reference)}  # fmt: skip
    classifier, clap = SoundClassifier.from_pretrained(), CLAP.from_pretrained()
    text_own, text_other = clap.embed_text(prompts), clap.embed_text(other)
    for name, clips in sets.items():
        row = adherence(clips, entries, sr, classifier)
        audio = clap.embed_audio(clips)
        row["clap_score"] = round(clap_score(text_own, audio), 3)
        figures[name] = row
        if name == "cfg_3":  # the control: the same outputs, judged against prompts that do not describe them
            shuffled = adherence(clips, entries[len(entries) // 2 :] + entries[: len(entries) // 2], sr, classifier)
            shuffled["clap_score"] = round(clap_score(text_other, audio), 3)
            figures["shuffled"] = shuffled
        print(name, figures[name], flush=True)
    for emb_name in ("classifier", "clap"):
        emb = get_embedder(emb_name)
        ref = emb.embed(reference)
        for name, clips in sets.items():
            e = emb.embed(clips)
            figures[name][f"fad_{emb_name}"] = round(fad(e, ref), 3)
            figures[name][f"kad_{emb_name}"] = round(kad(e, ref), 3)

    # melody: each clip's tune under another clip's caption
    with_melody, without = [], []
    for i, (x, p) in enumerate(zip(real, other)):
        bins = melody_bins(x, sr, cfg.frame_rate, n)
        bpm = float(entries[i]["tempo_bpm"])  # a beat clock (models with one) at the melody's own tempo
        with_melody.append(chroma_cosine(x, decode(model.generate(p, n, melody=bins, guidance=3.0, seed=i, bpm=bpm)),
                                         sr, hop))  # fmt: skip
        without.append(chroma_cosine(x, decode(model.generate(p, n, guidance=3.0, seed=i, bpm=bpm)), sr, hop))
    ceiling = [chroma_cosine(x, y, sr, hop) for x, y in zip(real, sets["codec"])]
    figures["melody_chroma_cosine"] = {
        "with_melody": round(float(np.mean(with_melody)), 3),
        "with_melody_share_below_0.3": round(float(np.mean(np.array(with_melody) < 0.3)), 3),
        "without_melody": round(float(np.mean(without)), 3),
        "codec_ceiling": round(float(np.mean(ceiling)), 3),
    }
    print(figures["melody_chroma_cosine"], flush=True)

    # "make it a cello": the clips not played by a cello, asked to become one
    figures["make_it_a_cello"] = make_it_a_cello(model, diffusion, real, entries, sr, hop, n, classifier)
    print(figures["make_it_a_cello"], flush=True)

    # the cache against recomputing the band at every step (4 s, guidance 3)
    m = round(4 * cfg.frame_rate)
    for use_cache in (True, False):
        t0 = time.perf_counter()
        model.generate(prompts[0], m, guidance=3.0, seed=0, use_cache=use_cache)
        rate = (m + cfg.n_codebooks - 1) / (time.perf_counter() - t0)
        speed[f"steps_per_s_{'cache' if use_cache else 'recompute'}"] = round(rate, 1)
    figures["speed"] = speed
    command = f"python benchmarks/text2music.py --clips {args.clips} --seconds {args.seconds:g}"
    if args.model != "text2music-small":  # the command names what it measured
        command += f" --model {args.model}"
    if args.diffusion != "latent-diffusion-small":
        command += f" --diffusion '{args.diffusion}'"
    if args.baseline:
        command += f" --baseline {args.baseline}"
    if model.beat is not None:
        command += " --beat-guidance " + " ".join(f"{b:g}" for b in args.beat_guidance)
        command += f" --beat-codebooks {args.beat_codebooks}"
    write_result(args.result, figures, command=command)


if __name__ == "__main__":
    main()
