"""How well `ground` places true values and refuses invented ones on our generated pages, by
text layer and by OCR, before it is wired into extraction (issue 21).

    nice -n 19 .venv/bin/python -m bench.grounding_fields

For each page (invoice, passport) and source (the PDF's text layer; Tesseract on the clean
200 dpi render, the 150 dpi scan, the photo turned 3° and saved as JPEG q70):

* *grounded*: the share of transcribed fields found with every box overlapping the true one
  (IoU >= 0.5), with the true values;
* *all found*: whether every field was found (a document the check would not send to review);
* *invented caught*: the share of single invented values (one field changed at a time: a
  digit, a day, a name) that come back ``None``;
* *read ms*: CPU ms to get the page's words (text layer or OCR); *ground ms*: CPU ms of `ground`.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from PIL import Image

from gateway.evidence.ocr import TesseractReader
from gateway.evidence.pdf_text import pdf_words
from gateway.evidence.words import PageWords
from gateway.trust.grounding import ground, transcribed_leaves
from harness.pages import (
    Box,
    TestPage,
    field_boxes,
    invoice_page,
    iou,
    jpeg,
    page_image,
    passport_page,
    rotated,
    scan_like,
    text_pdf,
)

__all__ = ["invent", "main"]

NAMES = ["JOHANSSON", "Globex Corporation", "MARIA ANNA", "John Smith", "OCEANIA", "USD"]


def invent(value: Any, rng: random.Random) -> Any:
    """A plausible wrong value of the same kind: one digit changed, a date moved, a name
    swapped."""
    if isinstance(value, int | float):
        return round(value + rng.choice([1, 2, 5, 10, 0.1, 0.01]) * rng.choice([-1, 1]), 2)
    text = str(value)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        return (day + timedelta(days=rng.randrange(1, 40))).isoformat()
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if digits:
        at = rng.choice(digits)
        return text[:at] + str((int(text[at]) + rng.randrange(1, 10)) % 10) + text[at + 1 :]
    return rng.choice([n for n in NAMES if n.lower() != text.lower()])


def _set(data: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    parts = pointer.strip("/").split("/")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return out


def _sources(
    page: TestPage, reader: TesseractReader
) -> list[tuple[str, Callable[[], PageWords], Callable[[str], list[Box]]]]:
    pdf = text_pdf([page])
    upright = page_image(page, 200)
    turned, _ = rotated(upright, 3.0, [])
    photo = jpeg(turned, 70)

    def truth(pointer: str) -> list[Box]:
        return field_boxes(page, pointer)

    def turned_truth(pointer: str) -> list[Box]:
        marked = [(pointer, b) for b in field_boxes(page, pointer)]
        return [b for _, b in rotated(upright, 3.0, marked)[1]]

    def ocr(image: Image.Image) -> Callable[[], PageWords]:
        return lambda: reader.read(image, 1)

    return [
        ("text layer", lambda: pdf_words(pdf)[0], truth),
        ("OCR clean 200 dpi", ocr(upright), truth),
        ("OCR scan 150 dpi", ocr(scan_like(page)), truth),
        ("OCR photo +3° JPEG q70", ocr(photo), turned_truth),
    ]


def main() -> None:
    reader = TesseractReader()
    rng = random.Random(21)
    print("| page | source | grounded (IoU ≥ 0.5) | all found | invented caught "
          "| read ms | ground ms |")  # fmt: skip
    print("| --- | --- | ---: | :---: | ---: | ---: | ---: |")
    for name, page in (("invoice", invoice_page()), ("passport", passport_page())):
        for label, read, truth in _sources(page, reader):
            c0 = time.process_time()
            words = read()
            read_ms = 1000 * (time.process_time() - c0)
            c0 = time.process_time()
            result = ground(page.data, page.transcribed, [words])
            ground_ms = 1000 * (time.process_time() - c0)
            good = 0
            for pointer, found in result.items():
                boxes = truth(pointer)
                if (
                    found is not None
                    and len(found["boxes"]) == len(boxes)
                    and all(iou(b, t) >= 0.5 for b, t in zip(found["boxes"], boxes, strict=True))
                ):
                    good += 1
            caught = total = 0
            for pointer, value in transcribed_leaves(page.data, page.transcribed):
                for _ in range(5):
                    wrong = invent(value, rng)
                    total += 1
                    caught += (
                        ground(_set(page.data, pointer, wrong), [pointer], [words])[pointer] is None
                    )
            all_found = all(g is not None for g in result.values())
            print(f"| {name} | {label} | {good / len(result):.1%} | {'yes' if all_found else 'no'} "
                  f"| {caught / total:.1%} ({caught}/{total}) | {read_ms:.0f} | {ground_ms:.1f} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
