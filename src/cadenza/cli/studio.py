"""`cadenza studio`: every technique in one local web app, and the listening tests."""

from __future__ import annotations

import argparse
import socket

from cadenza.errors import InputError


def check_host(host: str, port: int) -> None:
    """Refuse a port that is taken or a host that is not this machine's, in one line, before anything starts."""
    if not 0 < port < 65536:
        raise InputError("--port", f"{port} is not a port number")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError as e:
        raise InputError(f"{host}:{port}", f"cannot listen there ({e.strerror})") from None


def local_urls(host: str, port: int) -> list[str]:
    if host in ("0.0.0.0", "::"):
        try:
            here = socket.gethostbyname(socket.gethostname())
        except OSError:
            here = "THIS-COMPUTER"
        return [f"http://127.0.0.1:{port}", f"http://{here}:{port}"]
    return [f"http://{host}:{port}"]


def run_app(app: object, host: str, port: int) -> None:
    """Serve the studio's app until Ctrl-C, then stop its job worker."""
    import uvicorn

    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")  # type: ignore[arg-type]
    finally:
        app.state.studio.close()  # type: ignore[attr-defined]


def cmd_studio(args: argparse.Namespace) -> int:
    from cadenza.studio.app import create_app

    check_host(args.host, args.port)
    app = create_app(args.workspace, store=args.db)
    print(f"cadenza studio: open {local_urls(args.host, args.port)[-1]}  (workspace {args.workspace}; Ctrl-C stops)",
          flush=True)  # fmt: skip
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("note: others on your network can reach it; listening-test links carry unguessable tokens")
    run_app(app, args.host, args.port)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("studio", help="the studio: every technique and the listening tests in a local web app",
                       description="cadenza studio (then open http://127.0.0.1:8000)")  # fmt: skip
    s.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default: this computer only), 0.0.0.0 for a network")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workspace", default="cadenza-studio", help="folder for uploads, results and tests")
    s.add_argument("--db", help="ratings store: a SQLite file or postgresql:// URL (default: WORKSPACE/ratings.sqlite)")
    s.set_defaults(func=cmd_studio)
