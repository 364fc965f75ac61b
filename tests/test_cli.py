"""The gongkai command as a user runs it: a subprocess, exit codes and one-line errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest


def gongkai(*args: str, database_url: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "GONGKAI_BACKOFF_BASE": "0.05", "RETRY_TIMES": "1"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "gongkai", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("gongkai:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_not_a_url_is_rejected_before_anything_runs(database_url):
    result = gongkai("crawl", "col/col1229311252/index.html", database_url=database_url)
    assert result.returncode == 2
    assert "not an http(s) URL" in one_line_error(result)


def test_bad_option_value(database_url):
    result = gongkai("crawl", "http://127.0.0.1:9/col/col1/index.html", "--delay", "soon", database_url=database_url)
    assert result.returncode == 2
    assert "--delay" in result.stderr and "not a number" in result.stderr


def test_bad_database_url_is_one_clear_line():
    result = gongkai("export", database_url="postgresql://nobody@127.0.0.1:1/nowhere")
    assert result.returncode == 3
    line = one_line_error(result)
    assert "cannot connect to the database" in line and "127.0.0.1:1" in line
    garbage = gongkai("export", database_url="this is :: not a url")
    assert garbage.returncode == 3 and "bad database URL" in one_line_error(garbage)


@pytest.mark.parametrize("password", ["s3cretpw", "S3cret%zzPW", "S3cret/PW", "S3c@retPW", "S3c#ret?PW"])
def test_password_never_printed(password):
    """Not even when it holds what URL parsers split on, or a bad %-escape they quote back."""
    result = gongkai("export", database_url=f"postgresql://user:{password}@127.0.0.1:1/db")
    assert result.returncode in (2, 3) and "Traceback" not in result.stderr, result.stderr
    for piece in {password, *(p for p in re.split(r"[@:/?#%]", password) if len(p) >= 3)}:
        assert piece not in result.stderr + result.stdout, (piece, result.stderr)


@pytest.mark.parametrize("password", ["S3cret/PW", "S3cret#PW", "S3cret?PW", "S3c@retPW"])
def test_redis_password_never_printed(password, database_url):
    env_url = f"redis://:{password}@127.0.0.1:1/0"
    result = subprocess.run([sys.executable, "-m", "gongkai", "crawl", "http://127.0.0.1:9/col/col1/index.html"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": env_url})
    assert result.returncode == 3 and "cannot reach Redis" in result.stderr, result.stderr
    for piece in {password, *(p for p in re.split(r"[@:/?#%]", password) if len(p) >= 3)}:
        assert piece not in result.stderr + result.stdout, (piece, result.stderr)


def test_unreachable_host_fails_with_one_line(database_url):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/col/col1229311252/index.html"
    result = gongkai("crawl", url, "--delay", "0", database_url=database_url)
    assert result.returncode == 1
    line = one_line_error(result)
    assert url in line and "failed" in line


def test_export_on_empty_database_prints_nothing(database_url):
    result = gongkai("export", database_url=database_url)
    assert result.returncode == 0 and result.stdout == ""


def test_distributed_options_need_redis_url(database_url, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    workers = gongkai("crawl", "http://127.0.0.1:9/col/col1/index.html", "--workers", "3", database_url=database_url)
    assert workers.returncode == 2
    assert "--workers needs REDIS_URL" in one_line_error(workers)
    role = gongkai("serve", "--role", "crawler", database_url=database_url)
    assert role.returncode == 2
    assert "--role crawler needs REDIS_URL" in one_line_error(role)


def test_unreachable_redis_is_one_clear_line(database_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://:secret@127.0.0.1:1/0")
    result = gongkai("crawl", "http://127.0.0.1:9/col/col1/index.html", "--workers", "2", database_url=database_url)
    assert result.returncode == 3
    line = one_line_error(result)
    assert "cannot reach Redis" in line and "secret" not in result.stderr


def test_every_command_says_what_it_does_and_names_the_environment_and_exit_codes():
    from gongkai.cli import build_parser

    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    for name, command in subcommands.choices.items():
        text = command.format_help()
        assert command.description, f"{name} has no description"
        for needle in ("DATABASE_URL", "GONGKAI_CONFIG", "GONGKAI_HOME", "REDIS_URL", "exit codes", "130"):
            assert needle in text, (name, needle)
    export_help = subcommands.choices["export"].format_help()
    assert "standard output" in export_help and "--since" in export_help and "byte order mark" in export_help
