"""`cadenza models`: the shipped models, their kinds, the command that uses each, and their main figures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common


def cmd_models(args: argparse.Namespace) -> int:
    from cadenza.pretrained import models_dir, shipped_names
    from cadenza.registry import MODELS, kind_of

    specs = {m.kind: m for m in MODELS}
    rows: list[dict[str, Any]] = []
    for name in shipped_names():
        folder = models_dir() / name
        kind = kind_of(folder)
        config = folder / "config.json"
        figures = json.loads(config.read_text()).get("figures", {}) if config.is_file() else {}
        if not figures and (folder / "figures.json").is_file():
            figures = json.loads((folder / "figures.json").read_text())
        spec = specs.get(kind)
        rows.append({"name": name, "kind": kind, "command": spec.command if spec else "?",
                     "summary": spec.summary if spec else "", "figures": figures})  # fmt: skip
    if common.print_json(args, rows):
        return 0
    print(f"{'name':23s} {'use with':27s} what")
    for r in rows:
        print(f"{r['name']:23s} {'cadenza ' + r['command']:27s} {r['summary']}")
    print(f"\nin {models_dir()}; in Python: cadenza.load(NAME); each folder's card.md says how it was trained")
    return 0


def register(sub: Any) -> None:
    m = sub.add_parser("models", help="the shipped models: kind, command, figures (cadenza.load(NAME) in Python)")
    common.add_json(m)
    m.set_defaults(func=cmd_models)
