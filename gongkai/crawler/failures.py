"""How the crawl says a network failure: by what happened (the host name does not resolve, the host refuses
connections), not by the class of the exception Scrapy, Twisted or urllib raised. One place, for the robots.txt
middleware's line, the retry middleware's choice not to retry a name that does not resolve, and `sites add`."""

from __future__ import annotations

import socket

# The exception classes a DNS failure comes as, whichever layer reports it.
DNS_FAILURES = frozenset({"CannotResolveHostError", "DNSLookupError", "DNSNotFoundError"})


def is_name_not_found(exception: BaseException) -> bool:
    """A DNS failure (the host name does not resolve)."""
    return exception.__class__.__name__ in DNS_FAILURES


def failure_in_words(exc: BaseException, netloc: str) -> str:
    """Why a host's robots.txt could not be read, as a user says it (not the exception's class)."""
    name = exc.__class__.__name__
    host = netloc.split(":")[0]
    if name in DNS_FAILURES:
        return f"the host name {host} does not resolve (DNS)"
    if "ConnectionRefused" in name or name == "ConnectError":
        return f"{netloc} refuses connections"
    if "Timeout" in name or "TimedOut" in name:
        return f"{netloc} does not answer (timed out)"
    if name in ("ConnectionLost", "ResponseNeverReceived", "ConnectionDone"):
        return f"{netloc} closed the connection without an answer"
    return f"robots.txt unreachable ({name})"


def network_failure_in_words(exc: BaseException, netloc: str) -> str:
    """Why a host could not be reached by urllib (`gongkai sites add`), in the same words as `failure_in_words`."""
    reason = getattr(exc, "reason", exc)
    host = netloc.split(":")[0]
    if isinstance(reason, socket.gaierror):
        return f"the host name {host} does not resolve (DNS)"
    if isinstance(reason, ConnectionRefusedError):
        return f"{netloc} refuses connections"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"{netloc} does not answer (timed out)"
    return f"cannot reach {netloc}: {reason}"
