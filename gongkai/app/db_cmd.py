"""`gongkai db url|stop|where`: where the data lives, the connection string other tools need, and stopping
the embedded server gongkai starts itself (it keeps running between commands, by design)."""

from __future__ import annotations

import argparse
import sys

from gongkai.db import embedded_data_dir, open_database, stop_embedded
from gongkai.settings import get_settings


def add_db_parser(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser(
        "db", help="where the database is: its connection string, its data directory; stop the embedded one",
        description="With DATABASE_URL unset gongkai runs its own PostgreSQL, one per user, in GONGKAI_HOME "
                    "(default $XDG_DATA_HOME/gongkai or ~/.local/share/gongkai), started on first use and left "
                    "running for the next command.")
    sub = db.add_subparsers(dest="db_command", required=True)
    sub.add_parser("url", help="print the connection string (starts the embedded server if needed)")
    sub.add_parser("where", help="print where the data lives")
    sub.add_parser("stop", help="stop the embedded server (the next command starts it again)")


def db_command(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.db_command == "url":
        url, conn = open_database()  # starts the embedded server and brings the schema up to date
        conn.close()
        print(url)
        return 0
    if args.db_command == "where":
        if settings.database_url:
            print("DATABASE_URL (an external server); nothing is kept locally")
        else:
            print(embedded_data_dir())
        return 0
    if settings.database_url:
        print("gongkai: DATABASE_URL is set: gongkai does not run that server, so it does not stop it",
              file=sys.stderr)
        return 0
    stopped = stop_embedded()
    print(f"db: {'stopped the' if stopped else 'no'} embedded server in {embedded_data_dir()}", file=sys.stderr)
    return 0
