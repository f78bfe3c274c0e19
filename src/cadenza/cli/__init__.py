"""The `cadenza` command line: one grammar for every technique.

- Every model is a noun with its verbs: `cadenza <model> train|generate|eval|...`, e.g.
  `cadenza music-transformer eval`, `cadenza lstm generate`, `cadenza codec encode`, `cadenza ddsp transfer`.
- The tasks stay top-level: `convert`, `render`, `analyze`, `compare`, `corpus`, `data`, `harmonize`, `compose`,
  `improvise`, `models`, `demo`.

Each command group is one module of this package with a `register(subparsers)` function; `cadenza.registry`
lists them in help order. Building the parser imports nothing heavy (no torch, numpy or music21): a command
imports what it needs when it runs, so `cadenza --help` starts at once. Every user mistake ends with one line
on stderr and exit code 2, with nothing half-written.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cadenza.errors import CadenzaError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from cadenza.registry import COMMANDS

    p = argparse.ArgumentParser(
        prog="cadenza",
        description="Generative music AI, symbolic and audio, end to end on a CPU. Models are nouns with verbs "
        "(cadenza lstm generate, cadenza codec encode); tasks are top-level (cadenza harmonize).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return p


def with_default_verb(argv: Sequence[str]) -> list[str]:
    """`cadenza text2music "a slow waltz" ...` as `cadenza text2music generate "a slow waltz" ...`: a noun whose
    default verb is left out (`cadenza.registry.DEFAULT_VERBS`)."""
    from cadenza.registry import DEFAULT_VERBS

    argv = list(argv)
    if len(argv) >= 2 and argv[0] in DEFAULT_VERBS:
        verb, verbs = DEFAULT_VERBS[argv[0]]
        if argv[1] not in verbs and argv[1] not in ("-h", "--help"):
            argv.insert(1, verb)
    return argv


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt("terminated")


def main(argv: Sequence[str] | None = None) -> int:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)  # a kill unwinds as Ctrl-C does: half-built folders are removed
    args = build_parser().parse_args(with_default_verb(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except CadenzaError as e:
        print(f"cadenza: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:  # training checkpoints the step under way first and says so
        print(f"cadenza: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        # CPython marks a KeyboardInterrupt that leaves code run from a string (dataclasses, namedtuple and
        # others `exec` the methods they make) as unhandled even when it is caught further up, and `python -m
        # cadenza` then kills itself with SIGINT instead of exiting 130. A string exec clears that mark.
        exec("pass")
        return 130


__all__ = ["EXIT_USAGE", "build_parser", "main"]
