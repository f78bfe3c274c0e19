"""The model registry and the Python API: every registered kind is complete, every shipped model loads by name
through `cadenza.load`, and save_pretrained / from_pretrained round-trip (RAVE's test_configs, for cadenza)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cadenza
from cadenza.errors import InputError
from cadenza.pretrained import models_dir, shipped_names
from cadenza.registry import COMMANDS, DEMO_SECTIONS, MODELS, kind_of, model_kind, resolve_object


@pytest.mark.parametrize("spec", MODELS, ids=lambda m: m.kind)
def test_every_kind_names_its_parts(spec) -> None:  # type: ignore[no-untyped-def]
    cls = resolve_object(spec.model)
    assert callable(cls.from_pretrained) and callable(cls.save_pretrained)
    assert cls.kind == spec.kind
    config = resolve_object(spec.config)
    assert dataclasses.is_dataclass(config)
    card = resolve_object(spec.card)
    assert isinstance(card, str) and card.startswith("# ") or card.startswith("---")
    assert importlib.import_module(f"cadenza.cli.{spec.command.replace('-', '_')}").register


def test_every_command_and_section_module_exists() -> None:
    for module in COMMANDS + DEMO_SECTIONS:
        importlib.import_module(module)
    nouns = {m.command for m in MODELS}
    assert {"markov", "music-transformer", "remi-transformer", "lstm", "bachbot", "abc-lm", "ddsp", "noisebandnet",
            "codec"} <= nouns  # fmt: skip


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_model_loads_by_name_and_round_trips(name: str, tmp_path: Path) -> None:
    model = cadenza.load(name)
    spec = model_kind(kind_of(models_dir() / name))
    assert type(model).kind == spec.kind
    model.save_pretrained(tmp_path / "copy", card=f"# {name}\n")
    again = cadenza.load(tmp_path / "copy")
    assert type(again) is type(model)
    if hasattr(model, "state_dict"):  # the torch models: the same weights
        a, b = model.state_dict(), again.state_dict()
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    if hasattr(model, "figures"):
        assert again.figures == model.figures


def test_load_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no shipped model of that name"):
        cadenza.load("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a cadenza model"):
        cadenza.load(tmp_path / "empty")
    newer = tmp_path / "newer"
    cadenza.load("ddsp-violin").save_pretrained(newer, card="# x\n")
    config = json.loads((newer / "config.json").read_text())
    (newer / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(InputError, match="format version 99 is newer"):
        cadenza.load(newer)
    (newer / "config.json").write_text(json.dumps({**config, "kind": "spaceship"}))
    with pytest.raises(Exception, match="unknown model kind 'spaceship'"):
        cadenza.load(newer)


def test_the_three_line_python_api(tmp_path: Path) -> None:
    """README's example: load a shipped model, generate, save MIDI and WAV."""
    model = cadenza.load("lstm-essen")
    score = model.generate(seed=1)
    cadenza.save(score, tmp_path / "melody.mid")
    cadenza.save(score, tmp_path / "melody.wav")
    assert (tmp_path / "melody.mid").stat().st_size > 0 and (tmp_path / "melody.wav").stat().st_size > 1000


def test_import_cadenza_and_the_cli_parser_stay_light() -> None:
    """`cadenza --help` starts at once: building the parser imports none of torch, numpy, music21, scipy."""
    code = ("import sys, cadenza, cadenza.cli; cadenza.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'music21', 'scipy', 'librosa', 'transformers') "
            "if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
