"""Stand-in OCR readers that the OCR pool's worker processes import by name
(``"tests.support.ocr_readers:hanging"``), for the pool's fault tests."""

from __future__ import annotations

import os
import time

from gateway.evidence.words import PageWords, Word

__all__ = ["crashing", "echo", "hanging", "raising"]


def echo(data: bytes, page: int) -> PageWords:
    """One word: the data's length, so a test sees its page went through."""
    return PageWords(page, (Word(str(len(data)), (0.1, 0.1, 0.2, 0.2), 0, 1.0),), "ocr", "echo")


def hanging(data: bytes, page: int) -> PageWords:
    """A page that keeps the engine busy forever, except the page whose data is ``b"fast"``."""
    if data != b"fast":
        time.sleep(3600)
    return echo(data, page)


def crashing(data: bytes, page: int) -> PageWords:
    """A page that kills the engine (as a segfault in C code would)."""
    os._exit(70)


def raising(data: bytes, page: int) -> PageWords:
    """A page the engine refuses with an exception."""
    raise ValueError("cannot read this")
