"""`cadenza text2music "PROMPT" | train`: music from a text prompt (MusicGen-style, over cadenza's codec), following
a melody or continuing an audio if given one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError

MAX_SECONDS = 120.0


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.text2music import Text2MusicConfig
    from cadenza.audio.text2music_train import ATTRIBUTES_NOTE, CARD, beat_note, train_text2music

    try:
        base = Text2MusicConfig(codec=args.codec, n_codebooks=args.codebooks, n_layer=args.layers, n_head=args.heads,
                                n_embd=args.width, window=args.window, dropout=args.dropout,
                                attributes=args.attributes, beat=args.beat, beat_dropout=args.beat_dropout)  # fmt: skip
    except ValueError as e:
        raise InputError("text2music config", str(e)) from None
    if args.window_frames < 8:
        raise InputError("--window-frames", "must be at least 8")
    tc = common.train_config(args, warmup_steps=min(200, args.steps // 10), betas=(0.9, 0.95))
    model, figures = train_text2music(args.data, Path(args.output) / "run", base, tc, window_frames=args.window_frames,
                                      batch_size=args.batch_size, init_from=args.init_from,
                                      new_segment=args.new_segment)  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith(("valid_", "uniform"))))
    cfg = model.cfg
    common.save_trained(
        model, args, figures, CARD, name=Path(args.output).name, codec=cfg.codec, n_codebooks=cfg.n_codebooks,
        frame_rate=cfg.frame_rate, n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head, window=cfg.window,
        text_dropout=cfg.text_dropout, melody_dropout=cfg.melody_dropout,
        n_params=sum(p.numel() for p in model.parameters()), data=" + ".join(f"`{d}`" for d in args.data),
        minutes_audio=figures["train_minutes_of_audio"], config=json.dumps(asdict(cfg)),
        window_frames=args.window_frames, batch_size=args.batch_size,
        attributes=(ATTRIBUTES_NOTE if cfg.attributes else "") + (beat_note(cfg) if cfg.beat else ""),
        init=f"\n\nFine-tuned from `{args.init_from}` (its card lists its own training)." if args.init_from else "",
    )  # fmt: skip
    return 0


def read_melody(path: str, sample_rate: int, frame_rate: float, n_frames: int) -> Any:
    """The melody condition of an audio file or a MIDI / score file (rendered with FluidSynth's piano first): the
    dominant chroma bin of each frame, -1 past its end."""
    import tempfile

    import numpy as np

    from cadenza.audio.text2music import melody_bins

    suffix = Path(path).suffix.lower()
    if suffix in (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"):
        y = common.read_mono(path, sample_rate, min_s=0.5).samples[0]
    else:
        from cadenza import io
        from cadenza.render.fluidsynth import render_score

        score = io.read(path)[0]
        if not any(p.notes for p in score.parts):
            raise InputError(path, "has no notes to take a melody from")
        with tempfile.TemporaryDirectory() as tmp:
            wav = render_score(score, Path(tmp) / "melody.wav", sample_rate=sample_rate, program=0, effects=False)
            y = common.read_mono(str(wav), sample_rate).samples[0]
    bins = melody_bins(y, sample_rate, frame_rate, n_frames)
    if (bins < 0).all():
        raise InputError(path, "is silent: no melody to follow")
    return np.asarray(bins)


def cmd_generate(args: argparse.Namespace) -> int:
    import time

    import numpy as np
    import torch

    from cadenza.audio.text2music import Text2Music, prompt_bpm
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    common.set_threads(args)
    if not args.prompt.strip():
        raise InputError("prompt", "is empty: describe the music (e.g. 'a slow cello melody in D minor')")
    if not 0 < args.seconds <= MAX_SECONDS:
        raise InputError("--seconds", f"must be in (0, {MAX_SECONDS:g}], got {args.seconds:g}")
    if args.beat_guidance is not None and args.beat_guidance < 0:
        raise InputError("--beat-guidance", f"must be >= 0, got {args.beat_guidance:g}")
    if args.beat_codebooks < 1:
        raise InputError("--beat-codebooks", f"must be >= 1, got {args.beat_codebooks}")
    if args.guidance < 0 or args.top_k < 0 or not 0 < args.top_p <= 1 or args.temperature <= 0:
        raise InputError("sampling", "--guidance >= 0, --top-k >= 0, 0 < --top-p <= 1 and --temperature > 0")
    model = Text2Music.from_pretrained(args.model)
    rate = model.cfg.frame_rate
    n_frames = max(1, round(args.seconds * rate))
    codec = model.codec
    melody = read_melody(args.melody, codec.sample_rate, rate, n_frames) if args.melody else None
    prefix = None
    if args.continue_from:
        y = common.read_mono(args.continue_from, codec.sample_rate, min_s=0.1).samples[0]
        prefix = codec.encode_chunked(torch.tensor(y)[None, None], model.cfg.n_codebooks)[0]
        if prefix.shape[-1] >= n_frames:
            raise InputError("--seconds", f"{args.seconds:g} s is not longer than {args.continue_from} "
                                          f"({prefix.shape[-1] / rate:.2f} s): nothing left to continue")  # fmt: skip
    text, truncated = model.text(args.prompt)
    if truncated:
        print(f"note: the prompt was cut to its first {model.cfg.max_text_tokens} tokens", file=sys.stderr)
    t0 = time.perf_counter()
    bpm = prompt_bpm(args.prompt) if model.beat is not None else None  # the clock's tempo (a model with one)
    codes = model.generate(text, n_frames, melody=melody, prefix=prefix, guidance=args.guidance,
                           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                           bpm=bpm, beat_guidance=args.beat_guidance, beat_codebooks=args.beat_codebooks,
                           progress=True)  # fmt: skip
    y = codec.decode_chunked(codes)[0, 0].numpy()
    seconds = time.perf_counter() - t0
    out = write_audio(AudioClip(y.astype(np.float32), codec.sample_rate), args.output)
    how = [f"guidance {args.guidance:g}"]
    if bpm is not None:
        beat = f"a beat clock at {bpm:g} bpm"
        if args.beat_guidance is not None:
            k = min(args.beat_codebooks, model.cfg.n_codebooks)
            where = ("every codebook" if k == model.cfg.n_codebooks
                     else "the first codebook" if k == 1 else f"the first {k} codebooks")  # fmt: skip
            beat += f" guided at {args.beat_guidance:g} on {where}"
        how.append(beat)
    if melody is not None:
        how.append(f"following the melody of {args.melody}")
    if prefix is not None:
        how.append(f"continuing {args.continue_from} ({prefix.shape[-1] / rate:.1f} s)")
    print(f"wrote {out}: {args.seconds:g} s of {args.prompt!r} ({', '.join(how)}) in {seconds:.1f} s")
    if args.codes:
        from cadenza.audio.codec_train import write_codes

        print(f"wrote {write_codes(args.codes, codes, codec, len(y))}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("text2music", help="text-to-music: MusicGen-style codec-token model (prompt, melody, continue)",
                       description='cadenza text2music "a slow cello melody in D minor" --seconds 10 -o out.wav '
                                   "(the verb generate may be left out); "
                                   "cadenza text2music train --data ...")  # fmt: skip
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{generate,train}")

    g = ssub.add_parser("generate", help="music from a prompt (the default verb)")
    g.add_argument("prompt", help='what to play, e.g. "a lively flute melody in G major, 6/8"')
    common.add_model(g, "text2music-small")
    g.add_argument("--seconds", type=float, default=10.0, help=f"length (default 10, at most {MAX_SECONDS:g})")
    g.add_argument("--melody", help="follow this melody: an audio file, or a MIDI / MusicXML / ABC file")
    g.add_argument("--continue", dest="continue_from", metavar="AUDIO", help="continue this audio (a prefix)")
    g.add_argument("--guidance", type=float, default=3.0,
                   help="classifier-free guidance coefficient "
                        "(default 3; 1 = the conditional model alone)")  # fmt: skip
    g.add_argument("--beat-guidance", type=float, default=None,
                   help="the beat clock's own guidance coefficient (models with a clock; default: --guidance); "
                        "higher holds the prompt's tempo harder, at a cost in timbre (BENCHMARKS.md) and one more "
                        "forward pass per step")  # fmt: skip
    g.add_argument("--beat-codebooks", type=int, default=1,
                   help="guide the clock on the first N codebooks only (default 1: the coarsest, which places the "
                        "onsets; the finer ones carry the timbre)")  # fmt: skip
    g.add_argument("--codes", help="also write the codes (.codes) to this file")
    common.add_sampling(g)
    g.set_defaults(top_k=250)
    common.add_output(g, "output .wav")
    g.set_defaults(func=cmd_generate)

    t = ssub.add_parser("train", help="train (or fine-tune) on captioned audio: render datasets or captions.jsonl")
    t.add_argument("--data", required=True, nargs="+",
                   help="dataset folders (`cadenza data render`) or folders of audio with captions.jsonl")  # fmt: skip
    t.add_argument("--init-from", help="fine-tune: start from this model's weights and config (e.g. text2music-small)")
    t.add_argument("--codec", default="codec-vocos", help="the codec whose codes it writes (default codec-vocos)")
    t.add_argument("--codebooks", type=int, default=4, help="codebooks modelled (default 4: 2 kbps)")
    t.add_argument("--layers", type=int, default=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--width", type=int, default=192)
    t.add_argument("--window", type=int, default=160, help="self-attention band in frames (default 160)")
    t.add_argument("--window-frames", type=int, default=250, help="training window in frames (default 250: 5 s)")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--attributes", action="store_true",
                   help="also read tempo (word, N bpm) and key from the prompt's words "
                        "(with --init-from: learn to)")  # fmt: skip
    t.add_argument("--beat", action="store_true",
                   help="also give every frame a beat clock at the prompt's tempo "
                        "(with --init-from: learn to)")  # fmt: skip
    t.add_argument("--beat-dropout", type=float, default=0.0, metavar="P",
                   help="with --beat: also drop the clock alone on this share of windows, the words kept, so "
                        "that --beat-guidance compares with a branch the model knows (default 0: only with the "
                        "prompt)")  # fmt: skip
    common.add_training(t, steps=3000, lr=6e-4, eval_every=250)
    t.set_defaults(func=cmd_train)
