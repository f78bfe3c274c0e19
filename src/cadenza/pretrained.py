"""`save_pretrained` / `from_pretrained` for every torch model of cadenza, in the manner of Hugging Face.

A model folder holds `model.safetensors`, `config.json` (`kind`, `format_version`, the model's config under
"model", its measured "figures", and anything else the model needs) and `card.md`. A model class takes the
mixin, names its `kind` and its shipped default, and says how to build itself from a saved config:

    class MelodyLSTM(Pretrained, LSTMLM):
        kind = "lstm-melody"
        config_cls = MelodyPreset
        shipped = "lstm-essen"

        @classmethod
        def from_config(cls, config): return cls(preset_from_dict(config["preset"]))

    model = MelodyLSTM.from_pretrained()                  # the shipped models/lstm-essen
    model = MelodyLSTM.from_pretrained("runs/my-lstm")    # a folder a user trained
    model.save_pretrained("out/copy", card="# ...")

`cadenza.load(name_or_dir)` finds the class from the folder's `kind` (`cadenza.registry`). Nothing heavy is
imported at module level: the registry imports this module to resolve names.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Self

from cadenza.errors import InputError


def models_dir() -> Path:
    """`$CADENZA_MODELS`, else the `models/` folder of the checkout cadenza runs from."""
    from cadenza.paths import models_dir as _models_dir

    return _models_dir()


def shipped_names() -> list[str]:
    """Names of the shipped models (folders of `models/`)."""
    root = models_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


def resolve(name_or_dir: str | Path) -> Path:
    """A model folder from a shipped model's name (`"lstm-essen"`) or a path.

    Raises:
        InputError: neither an existing folder nor a shipped name.
    """
    path = Path(name_or_dir)
    if path.is_dir():
        return path
    text = str(name_or_dir)
    if "/" not in text and "\\" not in text and (models_dir() / text).is_dir():
        return models_dir() / text
    if path.exists():
        return path  # a single-file model (a Markov chain's .json.gz): its class reads it
    raise InputError(text, f"no such model folder, and no shipped model of that name (shipped: "
                           f"{', '.join(shipped_names())})")  # fmt: skip


def expect_kind(folder: Path, kind: str) -> None:
    """Raise a clear error when a model folder holds another kind of model than `kind`."""
    from cadenza.registry import kind_of

    found = kind_of(folder)
    if found != kind:
        raise InputError(folder, f"holds a {found!r} model, not a {kind!r} model")


_OWN_KEYS = ("kind", "format_version", "model", "figures")

# What every model card says of its training: the segments that made the weights, the wall time and the device,
# and the measured figures (`cadenza.cli.common.save_trained` fills it).
TRAINING_BLOCK = """- Training segments (each resumed the one before; a segment's schedule is a function of the step):
{segments}
- Wall time: {wall:.1f} min in all on {device}

| figure | value |
|---|---|
{figures}
"""


class Pretrained:
    """Mixin for a torch module with a frozen dataclass config in `self.cfg`: folders in, folders out."""

    kind: ClassVar[str]  # written to config.json; from_pretrained refuses a folder of another kind
    config_cls: ClassVar[type]  # the frozen dataclass in `self.cfg`
    shipped: ClassVar[str | None] = None  # the shipped model from_pretrained() loads without an argument
    figures: dict[str, Any]  # measured when trained, saved with the weights
    extra: dict[str, Any]  # what else config.json holds (training settings, segments): kept through load and save
    saved_config: dict[str, Any]  # the whole config.json it was loaded from

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """The untrained model described by a saved config.json (default: `cls(config_cls(**config["model"]))`)."""
        from cadenza.train.checkpoint import config_from_dict

        return cls(config_from_dict(cls.config_cls, config["model"]))  # type: ignore[call-arg]

    def config_dict(self) -> dict[str, Any]:
        """What config.json holds besides kind, version and figures: {"model": asdict(cfg)} and `extra`."""
        return {"model": dataclasses.asdict(self.cfg), **getattr(self, "extra", {})}  # type: ignore[attr-defined]

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path | None = None) -> Self:
        """Load a model folder (or a shipped model by name; default: this kind's shipped model), in eval mode.

        Raises:
            InputError: no such folder, a folder of another kind or a newer format, corrupt weights, or weights
                that do not fit the config.
        """
        from cadenza.train.checkpoint import load_model_files, load_weights

        if name_or_dir is None:
            if cls.shipped is None:
                raise InputError(cls.kind, "has no shipped model: give a model folder")
            name_or_dir = cls.shipped
        folder = resolve(name_or_dir)
        config, tensors = load_model_files(folder, kind=cls.kind)
        try:
            model = cls.from_config(config)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(folder / "config.json", f"unusable config ({type(e).__name__}: {e})") from None
        load_weights(model, tensors, folder)  # type: ignore[arg-type]
        model.saved_config = config
        model.figures = dict(config.get("figures", {}))
        model.extra = {k: v for k, v in config.items() if k not in _OWN_KEYS}
        return model

    def save_pretrained(
        self, folder: str | Path, *, card: str = "", figures: dict[str, Any] | None = None, half: bool = False
    ) -> Path:
        """Write `folder`/model.safetensors, config.json and card.md (atomically, each file); `half`: weights in
        float16 (half the size on disk; they load back as float32)."""
        from cadenza.train.checkpoint import save_model

        if figures is not None:
            self.figures = dict(figures)
        config = {**self.config_dict(), "figures": getattr(self, "figures", {})}
        text = card or f"# {self.kind}\n\nSaved by cadenza; no card was written for it.\n"
        return save_model(folder, self, config, kind=self.kind, card=text, half=half)  # type: ignore[arg-type]
