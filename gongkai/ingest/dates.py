"""Moved to gongkai/dates.py (one date parser for every stage)."""

from gongkai.dates import parse_date

__all__ = ["parse_date"]
