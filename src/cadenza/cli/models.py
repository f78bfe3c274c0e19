"""`cadenza models`: the shipped models, their kinds, the command that uses each, and their main figures."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cadenza.cli import common


def cmd_models(args: argparse.Namespace) -> int:
    from cadenza.pretrained import models_dir, shipped_names
    from cadenza.registry import MODELS, kind_of

    commands = {m.kind: m.command for m in MODELS}
    rows = []
    for name in shipped_names():
        folder = models_dir() / name
        kind = kind_of(folder)
        config = folder / "config.json"
        figures = json.loads(config.read_text()).get("figures", {}) if config.is_file() else {}
        if not figures and (folder / "figures.json").is_file():
            figures = json.loads((folder / "figures.json").read_text())
        rows.append({"name": name, "kind": kind, "command": commands.get(kind, "?"), "figures": figures})
    if common.print_json(args, rows):
        return 0
    print(f"{'name':24s} {'kind':22s} command (cadenza COMMAND ...)")
    for r in rows:
        print(f"{r['name']:24s} {r['kind']:22s} {r['command']}")
    print(f"\nin {models_dir()}; in Python: cadenza.load(NAME); each folder's card.md says how it was trained")
    return 0


def register(sub: Any) -> None:
    m = sub.add_parser("models", help="the shipped models: kind, command, figures (cadenza.load(NAME) in Python)")
    common.add_json(m)
    m.set_defaults(func=cmd_models)
