"""`cadenza demo`: the listening page, one section per technique (`make demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_demo(args: argparse.Namespace) -> int:
    from cadenza.demo import build_demo

    page = build_demo(Path(args.output), only=args.only)
    print(f"open {page} in a browser")
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser("demo", help="build the listening page out/demo/index.html")
    d.add_argument("-o", "--output", default="out/demo")
    d.add_argument("--only", nargs="+", metavar="SECTION", help="build only these sections (e.g. markov codec)")
    d.set_defaults(func=cmd_demo)
