"""`cadenza listen create|serve|results|close`: listening tests (MUSHRA, A/B, MOS) from a small TOML file."""

from __future__ import annotations

import argparse
from pathlib import Path

from cadenza.errors import InputError


def cmd_create(args: argparse.Namespace) -> int:
    from cadenza.listen.design import create_test

    m = create_test(args.spec, args.output)
    for note in m.notes:
        print(f"note: {note}")
    extra = " (hidden reference, 3.5 and 7 kHz anchors included)" if m.type == "mushra" else ""
    print(f"{m.type} test {m.name!r}: {len(m.trials)} trial(s) x {len(m.conditions)} condition(s){extra}, loudness "
          f"matched to -23 LUFS, at most {max(m.seconds.values()):.1f} s each")  # fmt: skip
    print(f"wrote {args.output}; serve it with: cadenza listen serve {args.output}")
    return 0


def _store(args: argparse.Namespace) -> str:
    return args.db or str(Path(args.tests[0]) / "ratings.sqlite")


def cmd_serve(args: argparse.Namespace) -> int:
    from cadenza.cli.studio import check_host, local_urls, run_app
    from cadenza.studio.app import create_app

    check_host(args.host, args.port)
    folders = [Path(t) for t in args.tests]
    app = create_app(args.workspace or folders[0] / "studio", store=_store(args), tests=folders)
    for test in app.state.studio.listen.tests.values():
        for base in local_urls(args.host, args.port):
            print(f"{test.manifest.name}: listeners open {base}/listen/{test.manifest.id}")
        print(f"  results (keep this link to yourself): {base}/listen/{test.manifest.id}/results?key={test.key}",
              flush=True)  # fmt: skip
    run_app(app, args.host, args.port)
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from cadenza.io.files import write_text_atomic
    from cadenza.listen.analysis import analyze, ratings_csv, results_markdown, results_png
    from cadenza.listen.design import read_manifest
    from cadenza.listen.store import open_store

    m = read_manifest(args.tests[0])
    rows = open_store(_store(args)).ratings(m.id)
    if not rows:
        raise InputError(_store(args), f"holds no rating of test {m.name!r} yet")
    res = analyze(m, rows)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "ratings.csv", ratings_csv(rows, res.excluded))
    write_text_atomic(out / "results.md", results_markdown(res))
    import json

    write_text_atomic(out / "results.json", json.dumps(res.as_dict(), indent=1))
    results_png(res, out / "results.png")
    print(results_markdown(res))
    print(f"wrote {out}/ratings.csv, results.md, results.json, results.png")
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from cadenza.listen.design import read_manifest
    from cadenza.listen.store import open_store

    m = read_manifest(args.tests[0])
    open_store(_store(args)).close_test(m.id)
    print(f"closed {m.name!r}: no new listener or rating is taken")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("listen", help="listening tests: MUSHRA, A/B, MOS (create, serve, results)",
                       description="cadenza listen create test.toml -o my-test; cadenza listen serve my-test; "
                                   "cadenza listen results my-test -o results")  # fmt: skip
    ssub = s.add_subparsers(dest="verb", required=True, metavar="{create,serve,results,close}")
    c = ssub.add_parser("create", help="prepare a test folder from its TOML definition")
    c.add_argument("spec", help="the test's .toml file (type, reference, [conditions] name = folder)")
    c.add_argument("-o", "--output", required=True, help="the test folder to make")
    c.set_defaults(func=cmd_create)
    for verb, fn, helptext in (("serve", cmd_serve, "serve the test to listeners' browsers"),
                               ("results", cmd_results, "screening, means, 95%% CIs, paired tests, CSV and a plot"),
                               ("close", cmd_close, "take no more ratings")):  # fmt: skip
        v = ssub.add_parser(verb, help=helptext)
        v.add_argument("tests", nargs="+" if verb == "serve" else 1, help="test folder(s) from `cadenza listen create`")
        v.add_argument("--db", help="ratings: a SQLite file or a postgresql:// URL (default: TEST/ratings.sqlite)")
        if verb == "serve":
            v.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to let others on your network listen")
            v.add_argument("--port", type=int, default=8001)
            v.add_argument("--workspace", help="the studio's workspace (default: TEST/studio)")
        if verb == "results":
            v.add_argument("-o", "--output", required=True, help="a folder for the CSV, tables and plot")
        v.set_defaults(func=fn)
