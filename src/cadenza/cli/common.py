"""What every command group shares: argument groups declared once, the outputs of a generator, model cards.

Argument groups (each adds its options to a parser):
- `add_output`: -o OUT (a stem for MIDI / MusicXML / WAV, a folder, or a file);
- `add_model`: --model (a model folder or a shipped model's name; default: the shipped one);
- `add_sampling`: --temperature, --top-k, --top-p, --seed;
- `add_training`: --steps, --lr, --eval-every, --threads, --seed, --minutes, --new-segment, -o;
- `add_threads`: --threads for commands that run a model;
- `add_eval`: --model, --json and --threads for a model's `eval`; `add_json` alone for others.

Nothing heavy is imported here: this module is loaded while the parser is built.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import InputError

if TYPE_CHECKING:
    from cadenza.core.score import Score
    from cadenza.train.loop import TrainConfig

STEM_HELP = "output stem (OUT -> OUT.mid, OUT.xml, OUT.wav)"


# ------------------------------------------------------------------------------------------------ argument groups


def read_mono(path: str, sample_rate: int, *, min_s: float = 0.0) -> Any:
    """A recording given on the command line, mono at `sample_rate` (a resampling is said), checked for NaN and
    (with `min_s`) length.

    Raises:
        InputError: unreadable, NaN or infinite samples, or shorter than `min_s`.
    """
    import numpy as np

    from cadenza.io.audio import read_audio

    notes: list[str] = []
    clip = read_audio(path, sample_rate=sample_rate, mono=True, notes=notes)
    for n in notes:
        print(f"{path}: {n}")
    if not np.isfinite(clip.samples).all():
        raise InputError(path, "holds NaN or infinite samples")
    if clip.samples.shape[-1] < min_s * sample_rate:
        raise InputError(path, f"is {clip.duration_s:.2f} s long; give at least {min_s:g} s")
    return clip


def add_output(p: argparse.ArgumentParser, help: str = STEM_HELP) -> None:
    p.add_argument("-o", "--output", required=True, help=help)


def add_model(p: argparse.ArgumentParser, shipped: str) -> None:
    p.add_argument("--model", help=f"a model folder or a shipped model's name (default: {shipped})")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def add_eval(p: argparse.ArgumentParser, shipped: str) -> None:
    """The options of a model's `eval` verb: --model, --json, --threads."""
    add_model(p, shipped)
    add_json(p)
    add_threads(p, default=0)


def print_json(args: argparse.Namespace, result: Any) -> bool:
    """With --json, print the result as JSON (and say so: the caller prints nothing else)."""
    if getattr(args, "json", False):
        import json

        print(json.dumps(result, indent=2))
        return True
    return False


def add_threads(p: argparse.ArgumentParser, default: int = 1) -> None:
    p.add_argument("--threads", type=int, default=default,
                   help=f"CPU threads for the model (default {default}{': torch decides' if default == 0 else ''}; "
                        "small models run faster on one thread of a busy machine)")  # fmt: skip


def add_sampling(p: argparse.ArgumentParser, *, temperature: float = 1.0, top_p: float = 1.0,
                 top_k: bool = True) -> None:  # fmt: skip
    g = p.add_argument_group("sampling")
    g.add_argument("--temperature", type=float, default=temperature, help=f"(default {temperature:g})")
    if top_k:
        g.add_argument("--top-k", type=int, default=0, help="keep the k most probable tokens (default 0: all)")
    g.add_argument("--top-p", type=float, default=top_p, help=f"nucleus sampling (default {top_p:g})")
    g.add_argument("--seed", type=int, default=0)
    add_threads(p)


def add_training(
    p: argparse.ArgumentParser,
    *,
    steps: int,
    lr: float | None,
    eval_every: int = 250,
    lr_help: str | None = None,
    output_help: str = "model folder (checkpoints go in OUTPUT/run)",
) -> None:
    g = p.add_argument_group("training (the shared loop: resumes from OUTPUT/run)")
    g.add_argument("--steps", type=int, default=steps, help=f"optimizer steps (default {steps})")
    g.add_argument("--lr", type=float, default=lr, help=lr_help or f"peak learning rate (default {lr:g})")
    g.add_argument("--eval-every", type=int, default=eval_every, help="evaluate and checkpoint every N steps")
    g.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes of training")
    g.add_argument("--new-segment", action="store_true",
                   help="resume a run with a changed schedule (more steps, another lr) as a new segment")  # fmt: skip
    g.add_argument("--threads", type=int, default=0, help="CPU threads (default 0: torch decides)")
    g.add_argument("--seed", type=int, default=0)
    add_output(p, output_help)


def train_config(args: argparse.Namespace, *, lr: float | None = None, warmup_steps: int | None = None,
                 **fields: Any) -> TrainConfig:  # fmt: skip
    """The `TrainConfig` of the training options (`add_training`); `fields` set the others (betas, ...)."""
    from cadenza.train.loop import TrainConfig

    if args.steps < 1:
        raise InputError("--steps", "must be at least 1")
    return TrainConfig(
        max_steps=args.steps, lr=lr if lr is not None else args.lr,
        warmup_steps=min(100, args.steps // 10) if warmup_steps is None else warmup_steps,
        eval_every=args.eval_every, checkpoint_every=args.eval_every, seed=args.seed, threads=args.threads,
        max_seconds=60 * (args.minutes or 0), **fields,
    )  # fmt: skip


def set_threads(args: argparse.Namespace) -> None:
    """Apply --threads (0: leave torch's default)."""
    if getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)


# ------------------------------------------------------------------------------------------------ outputs


def pick(scores: list[Score], piece: int | None, path: str) -> Score:
    """The --piece of a file that holds several (default: the first)."""
    if piece is None:
        return scores[0]
    if not 0 <= piece < len(scores):
        raise InputError(path, f"has {len(scores)} pieces; --piece must be 0..{len(scores) - 1}")
    return scores[piece]


def write_outputs(score: Score, output: str, *, program: int | None = None) -> list[Path]:
    """Write a generated score as MIDI, MusicXML and WAV next to each other (OUT.mid, OUT.xml, OUT.wav)."""
    from cadenza import io
    from cadenza.render import render_score

    stem = Path(output)
    if stem.suffix.lower() in (".mid", ".midi", ".xml", ".wav", ".abc", ".mxl"):
        stem = stem.with_suffix("")
    paths = [stem.with_suffix(".mid"), stem.with_suffix(".xml"), stem.with_suffix(".wav")]
    io.write(score, paths[0])
    io.write(score, paths[1])
    render_score(score, paths[2], program=program)
    return paths


def print_written(paths: list[Path]) -> None:
    print("wrote " + ", ".join(str(p) for p in paths))


# ------------------------------------------------------------------------------------------------ model cards


def card_command(default: str) -> str:
    """The command line that is running, for a model card (`default` when not run as `cadenza` or
    `python -m cadenza`)."""
    exe = Path(sys.argv[0])
    ours = exe.name == "cadenza" or (exe.name == "__main__.py" and exe.parent.name == "cadenza")
    return "cadenza " + " ".join(sys.argv[1:]) if ours else default


def card_figures(figures: dict[str, Any]) -> str:
    """A card's figures as the rows of a markdown table."""
    return "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in figures.items())


def device_name() -> str:
    """What trained a model, for its card."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"this machine's CPU ({torch.get_num_threads()} threads, fp32)"


def card_fields(segments: list[dict[str, Any]], figures: dict[str, Any], default_command: str) -> dict[str, Any]:
    """The fields every card template shares: segments, figures, device, and the wall time in minutes."""
    from cadenza.train.loop import segments_markdown

    return {
        "segments": segments_markdown(segments, card_command(default_command)),
        "figures": card_figures(figures),
        "device": device_name(),
        "minutes": float(figures.get("train_seconds", 0.0)) / 60,
    }


def save_trained(model: Any, args: argparse.Namespace, figures: dict[str, Any], template: str, **fields: Any) -> None:
    """Fill a model's card template (the training segments, figures, device and wall time, and `fields`), save the
    model to args.output with it, and say so. The template's `{wall}` (or `{minutes}`) is the wall time."""
    shared = card_fields(model.extra["segments"], figures, f"cadenza {args.command} train ...")
    shared["wall"] = shared["minutes"]
    card = template.format(**{**shared, **fields})
    model.save_pretrained(args.output, card=card, figures=figures)
    print(f"wrote {args.output}/model.safetensors, config.json, card.md")


__all__ = [
    "STEM_HELP",
    "add_eval",
    "add_json",
    "add_model",
    "add_output",
    "add_sampling",
    "add_threads",
    "add_training",
    "card_command",
    "card_fields",
    "card_figures",
    "device_name",
    "pick",
    "print_json",
    "print_written",
    "set_threads",
    "train_config",
    "save_trained",
    "write_outputs",
]
