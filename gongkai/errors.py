"""Every error a user can act on, and the exit code each one ends `gongkai` with.

One module, at the bottom of the layers, so every layer raises the same types and the entry point
(`cli.py`) maps them to one `gongkai:` line and an exit code without knowing where they came from.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CRAWL_PROBLEM = 1  # some listing could not be read; the rest was crawled
EXIT_USAGE = 2  # bad input: a URL, an option, a config file
EXIT_DATABASE = 3  # the database (or Redis) cannot be reached or set up
EXIT_BUSY = 4  # another process holds the lock (the scheduler, or a crawl of the same site)
EXIT_INTERRUPTED = 130


class GongkaiError(Exception):
    """An error whose message is one line for the user, and the exit code it ends the command with."""

    code = EXIT_USAGE

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class UserError(GongkaiError):
    """Bad input the user can fix (exit 2 unless a code is given)."""


class ConfigError(GongkaiError, ValueError):
    """The sites file is missing or invalid; the message names the file and what is wrong."""


class CrawlInputError(GongkaiError, ValueError):
    """A listing URL we cannot crawl; the message is one line naming the URL."""


class DatabaseError(GongkaiError):
    """The database cannot be reached or set up; the message is one line for the user."""

    code = EXIT_DATABASE


class ServiceBusy(GongkaiError):
    """Another service holds the scheduler lock, or a site is being crawled already."""

    code = EXIT_BUSY


class PortalUnreadable(GongkaiError):
    """A portal (or its robots.txt) `gongkai discover` cannot read: one line naming the page, exit 1."""

    code = EXIT_CRAWL_PROBLEM
