"""What the parts of the service share: its logger and how an exception becomes one line."""

from __future__ import annotations

import logging

logger = logging.getLogger("gongkai.serve")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
