"""`cadenza rave train | transfer | encode | decode | export | generate`: RAVE, the realtime audio VAE (timbre
transfer, latent control, streaming export, a prior that plays on its own)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cadenza.cli import common
from cadenza.errors import InputError


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.rave import RAVEConfig
    from cadenza.audio.rave_train import CARD, RAVELossConfig, describe, train_rave
    from cadenza.train.loop import ParamGroup

    try:
        cfg = RAVEConfig(latent_dim=args.latent_dim, channels=args.channels, decoder_channels=args.decoder_channels,
                         n_bands=args.bands, strides=tuple(args.strides), causal=not args.non_causal,
                         encoder=args.encoder, decoder=args.decoder)  # fmt: skip
    except ValueError as e:
        raise InputError("rave config", str(e)) from None
    phase1 = args.phase1_steps if args.phase1_steps is not None else round(0.8 * args.steps)
    loss = RAVELossConfig(phase1_steps=phase1, beta=args.beta, batch_size=args.batch_size, distance=args.distance)
    groups = (ParamGroup("discriminator", "disc."),)
    tc = common.train_config(args, warmup_steps=min(200, args.steps // 10), betas=(0.5, 0.9), groups=groups)
    print(f"phase 1 (VAE: spectral distance + KL): steps 0-{phase1}; phase 2 (GAN, encoder frozen): "
          f"steps {phase1}-{args.steps}")  # fmt: skip
    model, figures = train_rave(args.data, Path(args.output) / "run", cfg, loss, tc, new_segment=args.new_segment)
    print(", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith(("valid_", "dims_"))))
    explained = model.extra["latent"]["explained_variance"]
    common.save_trained(
        model, args, figures, CARD, name=Path(args.output).name, sample_rate=cfg.sample_rate, **describe(cfg),
        latent_dim=cfg.latent_dim, frame_rate=cfg.frame_rate,
        causal="causal (streams with no look-ahead)" if cfg.causal else "non-causal (looks ahead; does not stream)",
        data=" + ".join(args.data), phase1=phase1, config=json.dumps(asdict(cfg)), loss=json.dumps(asdict(loss)),
        explained=", ".join(f"{v:.3f}" for v in explained), minutes_audio=figures["train_minutes_of_audio"],
    )  # fmt: skip
    return 0


def _load(args: argparse.Namespace) -> Any:
    from cadenza.audio.rave import RAVE

    common.set_threads(args)
    return RAVE.from_pretrained(args.model)


def _read(path: str, sample_rate: int) -> Any:
    return common.read_mono(path, sample_rate)


def _vector(values: list[float] | None, name: str, dims: int) -> Any:
    import torch

    if not values:
        return None
    if len(values) > dims:
        raise InputError(name, f"{len(values)} values for {dims} latent dimensions")
    fill = 0.0 if name == "--bias" else 1.0
    return torch.tensor(values + [fill] * (dims - len(values)), dtype=torch.float32)


def cmd_transfer(args: argparse.Namespace) -> int:
    import torch

    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    model = _load(args)
    clip = _read(args.input, model.sample_rate)
    if not 0 < args.fidelity <= 1:
        raise InputError("--fidelity", f"{args.fidelity:g} is not in (0, 1]")
    dims = model.fidelity_dims(args.fidelity)
    d = model.cfg.latent_dim
    bias, scale = _vector(args.bias, "--bias", d), _vector(args.scale, "--scale", d)
    y = AudioClip(model.resynthesize(torch.tensor(clip.samples)[None], dims=dims, bias=bias, scale=scale)[0].numpy(),
                  model.sample_rate)  # fmt: skip
    if not args.model_level:  # the file comes out at the input's loudness, as DDSP's transfers do
        from cadenza.audio.ddsp import source_loudness_db
        from cadenza.audio.dsp import normalize_loudness

        try:
            y = normalize_loudness(y, source_loudness_db(clip))
        except ValueError as e:  # a silent input or output
            raise InputError(args.input, str(e)) from None
    out = write_audio(y, args.output)
    print(f"wrote {out} ({clip.duration_s:.1f} s through {dims} of {d} latent dimensions, fidelity {args.fidelity:g}, "
          f"played by {args.model or model.shipped})")  # fmt: skip
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    model = _load(args)
    clip = _read(args.input, model.sample_rate)
    z = model.encode(torch.tensor(clip.samples)[None])[0].numpy()  # [D, T]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npy")
    np.save(tmp, z.astype(np.float32))
    tmp.replace(out)
    print(f"wrote {out}: latents [{z.shape[0]} dims x {z.shape[1]} frames] at {model.cfg.frame_rate:g} frames/s "
          f"(PCA basis, dimensions by variance)")  # fmt: skip
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    model = _load(args)
    try:
        z = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError(args.input, f"not a latent file from `cadenza rave encode` ({e})") from None
    if z.ndim != 2 or z.shape[0] > model.cfg.latent_dim or not np.isfinite(z).all():
        raise InputError(args.input, f"expected finite latents [<= {model.cfg.latent_dim} dims, frames], "
                                     f"got shape {list(z.shape)}")  # fmt: skip
    y = model.decode(torch.tensor(z, dtype=torch.float32)[None])
    out = write_audio(AudioClip(y[0].numpy(), model.sample_rate), args.output)
    print(f"wrote {out} ({y.shape[-1] / model.sample_rate:.1f} s from {z.shape[1]} frames)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from cadenza.audio.rave_export import export_torchscript

    model = _load(args)
    if not model.cfg.causal:
        raise InputError(args.model or model.shipped, "looks ahead and cannot stream: export needs a model trained "
                                                      "causal (the default of `cadenza rave train`)")  # fmt: skip
    dims = model.fidelity_dims(args.fidelity)
    if (args.format or Path(args.output).suffix.lstrip(".")) == "onnx":
        from cadenza.audio.rave_export import export_onnx

        info = export_onnx(model, args.output, dims=dims)
        print(f"wrote {args.output}: ONNX, out = model(audio, bias, scale) on whole buffers of {info['ratio']}-sample "
              f"frames, {info['sampling_rate']} Hz, latent {dims} dims (offline; to stream, export .ts)")  # fmt: skip
        return 0
    info = export_torchscript(model, args.output, dims=dims)
    print(f"wrote {args.output}: TorchScript, methods encode/decode/forward, {info['sampling_rate']} Hz, latent "
          f"{dims} dims every {info['ratio']} samples; latency {info['latency_ms']:.0f} ms")  # fmt: skip
    return 0


def _prior_dir(args: argparse.Namespace) -> Path:
    from cadenza.pretrained import resolve

    return resolve(args.model or "rave-violin") / "prior"


def cmd_prior(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from cadenza.audio.rave_prior import PRIOR_CARD, PriorConfig, train_prior

    model = _load(args)
    dims = args.dims or model.fidelity_dims(args.fidelity)
    cfg = PriorConfig(dims=dims, hidden=args.hidden, n_layers=args.layers, n_bins=args.bins)
    out = Path(args.output) if args.output else _prior_dir(args)
    args.output = str(out)
    tc = common.train_config(args, betas=(0.9, 0.99))
    prior, figures = train_prior(model, args.data, out / "run", cfg, tc, new_segment=args.new_segment)
    print(f"valid cross-entropy {figures['valid_nll_nats_per_dim']:.3f} nats per dimension "
          f"(uniform {figures['uniform_nll_nats_per_dim']:.3f})")  # fmt: skip
    common.save_trained(prior, args, figures, PRIOR_CARD, name=out.name, n_layers=cfg.n_layers, hidden=cfg.hidden,
                        dims=cfg.dims, n_bins=cfg.n_bins, data=" + ".join(args.data),
                        config=json.dumps(asdict(cfg)))  # fmt: skip
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from cadenza.audio.rave_prior import RAVEPrior
    from cadenza.core.audio import AudioClip
    from cadenza.io.audio import write_audio

    model = _load(args)
    folder = _prior_dir(args)
    if not (folder / "config.json").is_file():
        raise InputError(folder.parent, "has no prior: train one with `cadenza rave prior --model "
                                        f"{folder.parent} --data DATA`")  # fmt: skip
    if args.seconds <= 0:
        raise InputError("--seconds", "must be positive")
    prior = RAVEPrior.from_pretrained(folder)
    n_samples = round(args.seconds * model.sample_rate)
    n_frames = -(-(n_samples + model.delay) // model.cfg.hop)  # whole frames covering the audio and the delay
    z = prior.generate(n_frames, temperature=args.temperature, seed=args.seed, progress=True)
    y = model.decode(z)[0, :, :n_samples]
    out = write_audio(AudioClip(y.numpy(), model.sample_rate), args.output)
    print(f"wrote {out} ({args.seconds:g} s, {n_frames} latent frames from the prior at temperature "
          f"{args.temperature:g}, seed {args.seed})")  # fmt: skip
    return 0


def register(sub: Any) -> None:
    r = sub.add_parser("rave", help="RAVE: train, timbre transfer, encode/decode, export for live use")
    rsub = r.add_subparsers(dest="rave_command", required=True, metavar="ACTION")
    t = rsub.add_parser("train", help="train on folders of audio (yours, or `cadenza data render`'s)")
    t.add_argument("--data", required=True, nargs="+",
                   help="folders of audio files (every 10th held out for validation) or dataset folders with a "
                        "manifest (their splits); pooled")  # fmt: skip
    t.add_argument("--latent-dim", type=int, default=16)
    t.add_argument("--channels", type=int, default=16, help="encoder width (default 16)")
    t.add_argument("--decoder-channels", type=int, default=192, help="decoder width (default 192)")
    t.add_argument("--encoder", choices=("mel", "waveform"), default="mel",
                   help="the encoder's input: a log-mel spectrogram (default) or the PQMF bands (waveform, the "
                        "paper's; on this CPU's budget its latent learned no pitch: BENCHMARKS.md)")  # fmt: skip
    t.add_argument("--decoder", choices=("spectral", "waveform"), default="spectral",
                   help="spectral (default: Vocos-style STFT frames and a causal inverse STFT; needs --encoder mel) "
                        "or waveform (the paper's transposed convolutions to PQMF bands with loudness and noise "
                        "branches; played one pitch after 8,000 steps here, but keeps percussive textures' "
                        "attacks: train those with --encoder waveform --decoder waveform)")  # fmt: skip
    t.add_argument("--bands", type=int, default=8, help="PQMF bands (default 8: 1 kHz each at 16 kHz)")
    t.add_argument("--strides", type=int, nargs="+", default=[4, 4, 4],
                   help="encoder strides; the hop is bands x their product (default 4 4 4: 512 samples)")  # fmt: skip
    t.add_argument("--non-causal", action="store_true", help="look ahead (no streaming, no export)")
    t.add_argument("--phase1-steps", type=int,
                   help="steps of phase 1 (VAE) before phase 2 (GAN) (default: 80%% of --steps)")  # fmt: skip
    t.add_argument("--beta", type=float, default=0.01, help="KL weight after its warm-up (default 0.01)")
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--distance", choices=("ddsp", "rave"), default="ddsp",
                   help="spectral distance: ddsp (mean L1 of magnitudes and logs) or rave (RAVE's: L2 of magnitudes "
                        "relative to the input's energy, and L1 of logs) (default ddsp: in 4,000 steps on a violin "
                        "set neither learned pitch, and rave's resynthesis was further from the input)")  # fmt: skip
    common.add_training(t, steps=10000, lr=1e-3, eval_every=500)
    t.set_defaults(func=cmd_train)

    x = rsub.add_parser("transfer", help="play a recording through the model (timbre transfer)")
    x.add_argument("input", help="a .wav/.flac/.ogg recording (mixed down to mono)")
    common.add_model(x, "rave-violin")
    x.add_argument("--fidelity", type=float, default=0.99,
                   help="keep the latent dimensions that hold this share of the variance (default 0.99)")  # fmt: skip
    x.add_argument("--bias", type=float, nargs="+", help="added to each latent dimension (PCA order), e.g. 0.5 0 -1")
    x.add_argument("--scale", type=float, nargs="+", help="multiplies each latent dimension (PCA order)")
    x.add_argument("--model-level", action="store_true",
                   help="keep the level the model plays at (default: match the input's loudness)")  # fmt: skip
    common.add_threads(x)
    common.add_output(x, "output .wav")
    x.set_defaults(func=cmd_transfer)

    e = rsub.add_parser("encode", help="audio -> latents (.npy [dims, frames], PCA basis)")
    e.add_argument("input")
    common.add_model(e, "rave-violin")
    common.add_threads(e)
    common.add_output(e, "output .npy")
    e.set_defaults(func=cmd_encode)
    d = rsub.add_parser("decode", help="latents (.npy) -> audio")
    d.add_argument("input")
    common.add_model(d, "rave-violin")
    common.add_threads(d)
    common.add_output(d, "output .wav")
    d.set_defaults(func=cmd_decode)

    p = rsub.add_parser("export", help="a streaming TorchScript file for nn~ or any TorchScript host (or ONNX)")
    common.add_model(p, "rave-violin")
    p.add_argument("--fidelity", type=float, default=0.99, help="latent dimensions exposed (default 0.99)")
    p.add_argument("--streaming", action="store_true", default=True,
                   help="streaming mode, cached convolutions (always on for TorchScript)")  # fmt: skip
    p.add_argument("--format", choices=["torchscript", "onnx"],
                   help="torchscript (streaming, for nn~) or onnx (offline timbre transfer of a whole buffer, for "
                        "ONNX Runtime); default: onnx for an .onnx output, else torchscript")  # fmt: skip
    common.add_threads(p)
    common.add_output(p, "output .ts (or .onnx)")
    p.set_defaults(func=cmd_export)

    q = rsub.add_parser("prior", help="train the model's prior (an autoregressive GRU over its latent frames)")
    common.add_model(q, "rave-violin")
    q.add_argument("--data", required=True, nargs="+", help="folders of audio (the model's training data)")
    q.add_argument("--fidelity", type=float, default=0.95,
                   help="model the dimensions holding this share of the variance (default 0.95)")  # fmt: skip
    q.add_argument("--dims", type=int, help="model this many dimensions (overrides --fidelity)")
    q.add_argument("--hidden", type=int, default=256)
    q.add_argument("--layers", type=int, default=2)
    q.add_argument("--bins", type=int, default=64, help="equal-mass bins per dimension (default 64)")
    common.add_training(q, steps=3000, lr=1e-3, eval_every=500, output_help="prior folder (default: MODEL/prior)")
    q.set_defaults(func=cmd_prior)
    for action in q._actions:  # the prior goes in its model's folder unless told otherwise
        if action.dest == "output":
            action.required = False

    g = rsub.add_parser("generate", help="play from nothing: the prior's latent frames through the decoder")
    common.add_model(g, "rave-violin")
    g.add_argument("--seconds", type=float, default=10.0)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    common.add_threads(g)
    common.add_output(g, "output .wav")
    g.set_defaults(func=cmd_generate)
