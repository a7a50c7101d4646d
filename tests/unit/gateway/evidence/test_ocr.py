"""OCR with Tesseract: words and boxes from our generated pages in the variants issue 21
names, EXIF orientation applied, and no network needed to start."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from gateway.evidence.ocr import TesseractReader, engine_name, read_image
from gateway.evidence.words import PageWords
from tests.support.pages import (
    Box,
    TestPage,
    invoice_page,
    iou,
    jpeg,
    page_image,
    passport_page,
    rotated,
    scan_like,
    word_boxes,
)

Variant = Callable[[TestPage], tuple[Image.Image, list[tuple[str, Box]]]]
VARIANTS: dict[str, Variant] = {
    "clean": lambda p: (page_image(p, 200), word_boxes(p)),
    "scan 150 dpi": lambda p: (scan_like(p), word_boxes(p)),
    "rotated +3": lambda p: rotated(page_image(p, 200), 3.0, word_boxes(p)),
    "rotated -3": lambda p: rotated(page_image(p, 200), -3.0, word_boxes(p)),
    "JPEG q70": lambda p: (jpeg(page_image(p, 200), 70), word_boxes(p)),
}


@pytest.fixture(scope="module")
def reader() -> TesseractReader:
    return TesseractReader()


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("make", [invoice_page, passport_page])
def test_words_are_read_in_their_place(
    reader: TesseractReader, make: Callable[[], TestPage], variant: str
) -> None:
    image, truth = VARIANTS[variant](make())
    words = reader.read(image, page=2)
    assert words.page == 2 and words.source == "ocr"
    found = Counter(w.text.lower() for w in words.words) & Counter(t.lower() for t, _ in truth)
    assert sum(found.values()) / len(truth) >= 0.9
    located = sum(
        any(w.text.lower() == t.lower() and iou(w.box, box) >= 0.5 for w in words.words)
        for t, box in truth
    )
    assert located / len(truth) >= 0.9
    assert words.mean_conf is not None and words.mean_conf > 0.8


def test_a_tilted_table_row_is_one_line(reader: TesseractReader) -> None:
    image, _ = rotated(page_image(invoice_page(), 200), 3.0, [])
    words = reader.read(image, page=1)
    line = next(w.line for w in words.words if w.text == "Safety")
    assert [w.text for w in words.words if w.line == line] == [
        "Safety",
        "gloves",
        "2",
        "24,90",
        "49,80",
    ]


def test_exif_orientation_is_applied_before_reading(reader: TesseractReader) -> None:
    page = invoice_page()
    upright = page_image(page, 150)
    # stored turned a quarter, with the EXIF tag (6: rotate 90 CW to display) that turns it back
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=90, exif=exif)
    words = read_image(buffer.getvalue(), page=1)
    (truth,) = [box for text, box in word_boxes(page) if text == "INV-2026-0042"]
    (read,) = [w.box for w in words.words if w.text == "INV-2026-0042"]
    assert iou(truth, read) >= 0.5


def test_the_engine_names_itself_with_its_version() -> None:
    assert engine_name().startswith("tesseract 5.")


def test_the_engine_starts_and_reads_with_the_network_blocked() -> None:
    script = """
import io, socket
def refuse(*args, **kwargs):
    raise OSError("network blocked by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from gateway.evidence.ocr import read_image
from tests.support.pages import invoice_page, page_image
buffer = io.BytesIO()
page_image(invoice_page(), 150).save(buffer, format="PNG")
words = read_image(buffer.getvalue(), 1)
print(sum(w.text == "INV-2026-0042" for w in words.words))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_the_engine_starts_in_a_network_namespace_with_no_network() -> None:
    """The same with no network at all (``unshare -n``: the tests run as root here and in CI)."""
    done = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-c",
            "from gateway.evidence.ocr import TesseractReader; TesseractReader(); print('ok')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_missing_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tesseract-ocr-eng"):
        TesseractReader(tessdata=tmp_path)


def test_page_words_survive_pickling_across_processes() -> None:
    import pickle

    words = PageWords(3, (), "ocr", "tesseract")
    assert pickle.loads(pickle.dumps(words)) == words
