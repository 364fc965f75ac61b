"""The readers' web app (`gongkai web`): search, report and site pages and a JSON API, read-only.

`add_web_parser(subparsers)` and `cmd_web(args)` are what the entry point (cli.py) wires; this module
imports nothing heavy, so the `gongkai` command starts as fast as before.
"""

from __future__ import annotations

import argparse
import socket

from gongkai.errors import UserError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is 1-65535")
    return value


def add_web_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    web = subparsers.add_parser("web", help="serve the reports to readers: search, report and site pages, JSON API "
                                            "(read-only), until Ctrl-C")
    web.add_argument("--host", default=DEFAULT_HOST,
                     help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    web.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    return web


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or a UserError naming the address (port in use, no such address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from gongkai.app.web.app import create_app
    from gongkai.db import open_database

    url, conn = open_database()  # migrates: the search index of migration 0008 is there before the first query
    conn.close()
    app = create_app(url)
    sock = listen(args.host, args.port)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"gongkai web: serving on http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False,
                            proxy_headers=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
