"""Which OCR engine grounds values: word accuracy and CPU time of the candidates on our own
generated pages (harness/pages.py), in the variants issue 21 names.

    nice -n 19 .venv/bin/python -m bench.ocr_engines            # a Markdown table on stdout
    nice -n 19 .venv/bin/python -m bench.ocr_engines --repeat 3

*Word accuracy* is the share of the page's true words that the engine read (case-insensitive,
as a multiset: a word printed twice must be read twice). *Located* is the share of true words
read with a box whose intersection over union with the true box is at least 0.5. *CPU ms* is
the process's CPU time for one page (all threads, ``time.process_time``), after a warm-up
page; *wall ms* the elapsed time. The candidates:

* ``rapidocr``: RapidOCR 3 with the PP-OCR ONNX models its wheel ships, on onnxruntime;
* ``tesseract``: Tesseract 5 through tesserocr (its wheel bundles libtesseract), with Debian's
  ``tesseract-ocr-eng`` model.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from harness.pages import (
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

__all__ = ["Variant", "engines", "main", "variants"]

Words = list[tuple[str, Box]]
Variant = tuple[str, Image.Image, Words]
TESSDATA = "/usr/share/tesseract-ocr/5/tessdata"


def variants(page: TestPage) -> Iterator[Variant]:
    """The page as a clean 200 dpi render, a 150 dpi scan, turned ±3°, and as JPEG at 70."""
    truth = word_boxes(page)
    clean = page_image(page, 200)
    yield "clean 200 dpi", clean, truth
    yield "scan 150 dpi", scan_like(page), truth
    for degrees in (3.0, -3.0):
        image, boxes = rotated(clean, degrees, truth)
        yield f"rotated {degrees:+g}°", image, boxes
    yield "JPEG q70", jpeg(clean, 70), truth


def _rapidocr() -> Callable[[Image.Image], Words]:
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "warning", "Global.return_word_box": True})

    def read(image: Image.Image) -> Words:
        rgb = image.convert("RGB")
        result: Any = engine(np.asarray(rgb))
        words: Words = []
        for line in result.word_results or ():
            for text, _score, quad in line:
                if not quad:
                    continue
                xs, ys = [p[0] for p in quad], [p[1] for p in quad]
                w, h = rgb.size
                words.append((text, (min(xs) / w, min(ys) / h, max(xs) / w, max(ys) / h)))
        return words

    return read


def _tesseract() -> Callable[[Image.Image], Words]:
    import tesserocr

    api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng")

    def read(image: Image.Image) -> Words:
        api.SetImage(image)
        api.Recognize()
        words: Words = []
        level = tesserocr.RIL.WORD
        w, h = image.size
        for item in tesserocr.iterate_level(api.GetIterator(), level):
            text = item.GetUTF8Text(level)
            box = item.BoundingBox(level)
            if text and box:
                x0, y0, x1, y1 = box
                words.append((text, (x0 / w, y0 / h, x1 / w, y1 / h)))
        return words

    return read


def engines() -> dict[str, Callable[[], Callable[[Image.Image], Words]]]:
    return {"rapidocr": _rapidocr, "tesseract": _tesseract}


def score(truth: Words, read: Words) -> tuple[float, float]:
    """(word accuracy, located share) of ``read`` against ``truth``."""
    want = Counter(t.lower() for t, _ in truth)
    got = Counter(t.lower() for t, _ in read)
    found = sum((want & got).values())
    located = sum(
        1
        for text, box in truth
        if any(t.lower() == text.lower() and iou(box, b) >= 0.5 for t, b in read)
    )
    return found / len(truth), located / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per page")
    args = parser.parse_args()
    pages = {"invoice": invoice_page(), "passport": passport_page()}
    print("| engine | page | variant | word accuracy | located (IoU ≥ 0.5) | CPU ms | wall ms |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name, make in engines().items():
        read = make()
        read(page_image(pages["invoice"], 100))  # warm-up: sessions, caches
        totals: list[tuple[float, float, float, float]] = []
        for doc, page in pages.items():
            for label, image, truth in variants(page):
                cpu = wall = 0.0
                words: Words = []
                for _ in range(args.repeat):
                    c0, w0 = time.process_time(), time.perf_counter()
                    words = read(image)
                    cpu += time.process_time() - c0
                    wall += time.perf_counter() - w0
                accuracy, located = score(truth, words)
                cpu_ms, wall_ms = 1000 * cpu / args.repeat, 1000 * wall / args.repeat
                totals.append((accuracy, located, cpu_ms, wall_ms))
                print(
                    f"| {name} | {doc} | {label} | {accuracy:.1%} | {located:.1%} "
                    f"| {cpu_ms:.0f} | {wall_ms:.0f} |",
                    flush=True,
                )
        mean = [sum(col) / len(totals) for col in zip(*totals, strict=True)]
        print(
            f"| **{name}** | all | mean | **{mean[0]:.1%}** | **{mean[1]:.1%}** "
            f"| **{mean[2]:.0f}** | **{mean[3]:.0f}** |",
            flush=True,
        )


if __name__ == "__main__":
    main()
