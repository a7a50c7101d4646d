"""Generated test pages whose every word has a known place: an invoice and a passport, laid out
in PDF points, drawn as images by Pillow and written as PDFs with a real text layer by PDFium,
both in DejaVu (Debian's ``fonts-dejavu-core``, on every machine here), so that the true word
boxes come from the font's own metrics and not from the code under test.

    page = invoice_page()
    truth = word_boxes(page)                    # [(word, (x0, y0, x1, y1)), ...] as fractions
    image = page_image(page, dpi=200)           # a clean render
    scan = scan_like(page)                      # 150 dpi, grey, blurred, noisy
    tilted, boxes = rotated(image, 3.0, truth)  # the boxes follow the rotation
    pdf = text_pdf([page], rotate=90)           # a text layer PDFium reads back

A field's true place: ``field_boxes(page, "/invoice_number")``.

Many documents for a benchmark, seeded and deterministic (names, numbers, dates in several
printed forms, amounts in several number styles, 1-8 line items, MRZs with true check digits):

    for kind, page in generated_documents(invoices=20, passports=20): ...
"""

from __future__ import annotations

import ctypes
import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "MONO",
    "MRZ",
    "PAGE_PT",
    "SANS",
    "Box",
    "DATE_STYLES",
    "NUMBER_STYLES",
    "Run",
    "TestPage",
    "field_boxes",
    "format_amount",
    "format_date",
    "generated_documents",
    "generated_invoice",
    "generated_passport",
    "invoice_page",
    "iou",
    "jpeg",
    "page_image",
    "passport_page",
    "rotated",
    "scan_like",
    "text_pdf",
    "word_boxes",
]

FONTS = Path("/usr/share/fonts/truetype/dejavu")
SANS = FONTS / "DejaVuSans.ttf"
MONO = FONTS / "DejaVuSansMono.ttf"
PAGE_PT = (595.0, 842.0)
"""A4 in PDF points."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Run:
    """Text set on one baseline: ``x`` and ``baseline`` in points from the page's top-left."""

    text: str
    x: float
    baseline: float
    size: float = 11.0
    mono: bool = False
    field: str | None = None
    """The JSON Pointer of the value this run prints, if any."""


@dataclass(frozen=True)
class TestPage:
    """A page, the data a perfect extraction returns for it, and its transcribed pointers."""

    __test__ = False  # not a pytest class

    runs: tuple[Run, ...]
    data: dict[str, Any]
    transcribed: tuple[str, ...]
    size: tuple[float, float] = PAGE_PT
    extra: dict[str, Any] = field(default_factory=dict)


def _font(run: Run, scale: float = 1.0) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(MONO if run.mono else SANS), max(1, round(run.size * scale)))


def _run_words(run: Run) -> list[tuple[str, Box]]:
    """The words of ``run`` with their ink boxes in points (x from the advance widths, y from
    the word's own glyphs), at a large size so that rounding does not matter."""
    scale = 20.0
    font = _font(run, scale)
    out: list[tuple[str, Box]] = []
    offset = 0
    for word in run.text.split(" "):
        if word:
            left = font.getlength(run.text[:offset]) / scale
            width = font.getlength(word) / scale
            _, top, _, bottom = font.getbbox(word, anchor="ls")
            out.append(
                (
                    word,
                    (
                        run.x + left,
                        run.baseline + top / scale,
                        run.x + left + width,
                        run.baseline + bottom / scale,
                    ),
                )
            )
        offset += len(word) + 1
    return out


def word_boxes(page: TestPage) -> list[tuple[str, Box]]:
    """Every word on the page and its true box, as fractions of the page, origin top-left."""
    width, height = page.size
    return [
        (word, (x0 / width, y0 / height, x1 / width, y1 / height))
        for run in page.runs
        for word, (x0, y0, x1, y1) in _run_words(run)
    ]


DERIVED = frozenset({"/currency", "/sex"})
"""Printed on the pages but not transcribed, as the schemas declare them (`SchemaSpec.transcribed`):
a currency code is often inferred from a symbol, a one-letter sex too short to find reliably."""


def _printed_fields(fields: Sequence[tuple[str, str, str]]) -> tuple[str, ...]:
    return tuple(p for _, _, p in fields if p not in DERIVED)


def field_boxes(page: TestPage, pointer: str) -> list[Box]:
    """The true boxes of the words that print ``pointer``'s value."""
    width, height = page.size
    return [
        (x0 / width, y0 / height, x1 / width, y1 / height)
        for run in page.runs
        if run.field == pointer
        for _, (x0, y0, x1, y1) in _run_words(run)
    ]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# --- images -----------------------------------------------------------------------------------


def page_image(page: TestPage, dpi: float = 200.0) -> Image.Image:
    """The page drawn by Pillow at ``dpi``, black on white."""
    scale = dpi / 72.0
    size = (round(page.size[0] * scale), round(page.size[1] * scale))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for run in page.runs:
        draw.text(
            (run.x * scale, run.baseline * scale),
            run.text,
            fill="black",
            font=_font(run, scale),
            anchor="ls",
        )
    return image


def scan_like(page: TestPage, dpi: float = 150.0, seed: int = 7) -> Image.Image:
    """A 150 dpi scan: grey paper, soft focus, sensor noise, slightly uneven ink."""
    image = page_image(page, dpi).convert("L")
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    rng = random.Random(seed)
    noise = Image.effect_noise(image.size, 18)
    image = Image.blend(image, noise, 0.12)
    paper = Image.new("L", image.size, 236 + rng.randrange(8))
    return Image.composite(image, paper, image.point(lambda v: 255 if v < 200 else 0))


def jpeg(image: Image.Image, quality: int = 70) -> Image.Image:
    """``image`` after a round trip through JPEG at ``quality``."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def rotated(
    image: Image.Image, degrees: float, boxes: Sequence[tuple[str, Box]]
) -> tuple[Image.Image, list[tuple[str, Box]]]:
    """``image`` turned ``degrees`` counter-clockwise (the canvas grows, white corners), and
    each box as the axis-aligned hull of its turned corners, as fractions of the new canvas."""
    width, height = image.size
    out = image.convert("RGB").rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white"
    )
    rad = math.radians(degrees)
    cos, sin = math.cos(rad), math.sin(rad)
    cx, cy, nx, ny = width / 2, height / 2, out.width / 2, out.height / 2

    def turn(x: float, y: float) -> tuple[float, float]:
        dx, dy = x * width - cx, y * height - cy
        return (nx + dx * cos + dy * sin) / out.width, (ny - dx * sin + dy * cos) / out.height

    turned = []
    for word, (x0, y0, x1, y1) in boxes:
        corners = [turn(x, y) for x in (x0, x1) for y in (y0, y1)]
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        turned.append((word, (min(xs), min(ys), max(xs), max(ys))))
    return out, turned


# --- PDFs with a text layer -------------------------------------------------------------------


def text_pdf(
    pages: Sequence[TestPage],
    rotate: int = 0,
    crop: tuple[float, float, float, float] | None = None,
) -> bytes:
    """A PDF whose pages carry ``pages``' runs as real text (DejaVu embedded), written through
    PDFium's editing API. ``rotate`` sets /Rotate; ``crop`` (left, bottom, right, top, in
    points) sets the crop box, both as a viewer applies them."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    fonts: dict[bool, Any] = {}
    for mono in (False, True):
        data = (MONO if mono else SANS).read_bytes()
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        fonts[mono] = raw.FPDFText_LoadFont(pdf.raw, buffer, len(data), raw.FPDF_FONT_TRUETYPE, 1)
    for spec in pages:
        page = pdf.new_page(*spec.size)
        for run in spec.runs:
            obj = raw.FPDFPageObj_CreateTextObj(pdf.raw, fonts[run.mono], run.size)
            text = (run.text + "\0").encode("utf-16-le")
            raw.FPDFText_SetText(obj, ctypes.cast(ctypes.c_char_p(text), raw.FPDF_WIDESTRING))
            raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, run.x, spec.size[1] - run.baseline)
            raw.FPDFPage_InsertObject(page.raw, obj)
        page.gen_content()
        if rotate:
            page.set_rotation(rotate)
        if crop is not None:
            page.set_cropbox(*crop)
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


# --- the two documents ------------------------------------------------------------------------


def _table(rows: list[list[tuple[str, float, str | None]]], top: float, step: float) -> list[Run]:
    return [
        Run(text, x, top + step * index, field=pointer)
        for index, row in enumerate(rows)
        for text, x, pointer in row
    ]


def invoice_page() -> TestPage:
    """An invoice in German number style (1.253,70), a dotted date, three line items, and an
    amount (24,90) that occurs in two rows, so that only the row tells which one is meant."""
    items = [
        ("Cordless drill", "2", "589,50", "1.179,00"),
        ("Drill bit set", "1", "24,90", "24,90"),
        ("Safety gloves", "2", "24,90", "49,80"),
    ]
    rows: list[list[tuple[str, float, str | None]]] = [
        [
            ("Description", 50, None),
            ("Qty", 300, None),
            ("Unit price", 360, None),
            ("Amount", 470, None),
        ],
    ]
    for index, (name, qty, price, amount) in enumerate(items):
        base = f"/line_items/{index}"
        rows.append(
            [
                (name, 50, f"{base}/description"),
                (qty, 300, f"{base}/quantity"),
                (price, 360, f"{base}/unit_price"),
                (amount, 470, f"{base}/amount"),
            ]
        )
    runs = [
        Run("ACME Tools GmbH", 50, 70, 20, field="/vendor"),
        Run("Werkstrasse 12, 70173 Stuttgart", 50, 92),
        Run("INVOICE", 420, 70, 20),
        Run("Invoice no.", 50, 150),
        Run("INV-2026-0042", 160, 150, field="/invoice_number"),
        Run("Invoice date", 50, 170),
        Run("12.08.2026", 160, 170, field="/invoice_date"),
        Run("Customer", 50, 190),
        Run("Jane Roe", 160, 190, field="/customer"),
        *_table(rows, 250, 22),
        Run("Total", 360, 360),
        Run("EUR", 410, 360, field="/currency"),
        Run("1.253,70", 470, 360, field="/total"),
        Run("Payable within 30 days. Thank you for your order.", 50, 420, 9),
    ]
    data = {
        "vendor": "ACME Tools GmbH",
        "invoice_number": "INV-2026-0042",
        "invoice_date": "2026-08-12",
        "customer": "Jane Roe",
        "currency": "EUR",
        "total": 1253.7,
        "line_items": [
            {"description": "Cordless drill", "quantity": 2, "unit_price": 589.5, "amount": 1179.0},
            {"description": "Drill bit set", "quantity": 1, "unit_price": 24.9, "amount": 24.9},
            {"description": "Safety gloves", "quantity": 2, "unit_price": 24.9, "amount": 49.8},
        ],
        "summary": "Tools for a workshop",
    }
    transcribed = (
        "/vendor",
        "/invoice_number",
        "/invoice_date",
        "/customer",
        "/total",
        "/line_items/*/description",
        "/line_items/*/quantity",
        "/line_items/*/unit_price",
        "/line_items/*/amount",
    )
    return TestPage(tuple(runs), data, transcribed)


MRZ = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F2704159ZE184226B<<<<<10",
)


def passport_page() -> TestPage:
    """A passport data page (ICAO 9303's specimen, Utopia): dates as ``12 AUG 1974`` in the
    visual zone, and the two MRZ lines, where the same dates read ``740812``."""
    label, value = 50, 200
    fields = [
        ("Passport No.", "L898902C3", "/passport_number"),
        ("Surname", "ERIKSSON", "/surname"),
        ("Given names", "ANNA MARIA", "/given_names"),
        ("Nationality", "UTOPIAN", "/nationality"),
        ("Date of birth", "12 AUG 1974", "/date_of_birth"),
        ("Sex", "F", "/sex"),
        ("Place of birth", "ZENITH", "/place_of_birth"),
        ("Date of issue", "16 APR 2017", "/date_of_issue"),
        ("Date of expiry", "15 APR 2027", "/date_of_expiry"),
    ]
    runs = [Run("PASSPORT", label, 70, 20), Run("UTOPIA", 420, 70, 16)]
    for index, (name, text, pointer) in enumerate(fields):
        runs.append(Run(name, label, 130 + 26 * index, 9))
        runs.append(Run(text, value, 130 + 26 * index, 12, field=pointer))
    runs += [Run(line, 40, 420 + 22 * index, 12, mono=True) for index, line in enumerate(MRZ)]
    data = {
        "passport_number": "L898902C3",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "nationality": "UTOPIAN",
        "date_of_birth": "1974-08-12",
        "sex": "F",
        "place_of_birth": "ZENITH",
        "date_of_issue": "2017-04-16",
        "date_of_expiry": "2027-04-15",
    }
    return TestPage(tuple(runs), data, _printed_fields(fields))


# --- many generated documents -----------------------------------------------------------------

_VENDORS = (
    "ACME Tools GmbH", "Globex Corporation", "Initech Ltd", "Umbrella Supplies AG",
    "Stark Hardware Inc", "Wayne Office Services", "Nordlicht Elektro GmbH",
    "Bluebird Stationery SARL", "Kowalski i Synowie", "Helvetia Feinmechanik AG",
)  # fmt: skip
_CUSTOMERS = (
    "Jane Roe", "Max Mustermann", "Erika Musterfrau", "John Smith", "Marie Dupont",
    "Giulia Rossi", "Jan Kowalski", "Sven Lindqvist", "Ana Pereira", "Tomasz Nowak",
)  # fmt: skip
_STREETS = (
    "Werkstrasse 12, 70173 Stuttgart", "1200 Market Street, Springfield 62701",
    "Rue de la Paix 8, 75002 Paris", "Via Roma 41, 00184 Roma",
    "ul. Dluga 7, 00-238 Warszawa", "Bahnhofstrasse 88, 8001 Zurich",
)  # fmt: skip
_PRODUCTS = (
    "Cordless drill", "Drill bit set", "Safety gloves", "Office chair", "Printer paper A4",
    "Toner cartridge", "Desk lamp", "USB-C cable", "Monitor 27 inch", "Consulting hours",
    "Shipping", "Cable ties", "Wall anchors", "Ladder 3 m", "Workbench", "Extension lead",
)  # fmt: skip
_SURNAMES = (
    "ERIKSSON", "MUELLER", "GARCIA LOPEZ", "NOWAK", "ROSSI", "OKAFOR", "TANAKA", "DUBOIS",
    "OCONNOR", "SILVA", "HANSEN", "PETROV",
)  # fmt: skip
_GIVEN = (
    "ANNA MARIA", "PETER", "LUCIA", "JAN", "MARCO", "CHIDI", "YUKI", "CLAIRE", "SEAN",
    "JOAO PEDRO", "INGRID", "OLGA",
)  # fmt: skip
_COUNTRIES = (
    ("UTO", "UTOPIAN", "UTOPIA"),
    ("ATL", "ATLANTEAN", "ATLANTIS"),
    ("ELD", "ELDORADAN", "ELDORADO"),
    ("ARC", "ARCADIAN", "ARCADIA"),
)
_CITIES = ("ZENITH", "NADIR", "PORT ROYAL", "NEW HAVEN", "LAKESIDE", "RIVERTON")
NUMBER_STYLES = {
    "de": (".", ","),
    "en": (",", "."),
    "ch": ("'", "."),
    "fr": (" ", ","),
    "plain": ("", "."),
}
"""How an invoice prints amounts: (thousands separator, decimal separator)."""
DATE_STYLES = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "long", "%d %b %Y", "us")
"""How an invoice prints its date: strftime patterns, ``long`` (August 2, 2026), ``us``
(08/02/2026)."""
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def format_amount(value: float, style: str) -> str:
    """``value`` with two decimals in ``NUMBER_STYLES[style]``: 1253.7 → ``1.253,70`` (de)."""
    thousands, decimal = NUMBER_STYLES[style]
    whole, cents = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', thousands)}{decimal}{cents}"


def format_date(day: date, style: str) -> str:
    """``day`` printed in one of `DATE_STYLES`."""
    if style == "long":
        return f"{_MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"
    if style == "us":
        return f"{day.month:02d}/{day.day:02d}/{day.year}"
    return day.strftime(style)


def generated_invoice(seed: int) -> TestPage:
    """An invoice drawn from ``seed`` (the same seed, the same page): vendor, customer,
    number, a date in one of `DATE_STYLES`, amounts in one of `NUMBER_STYLES`, 1-8 line items
    with quantities 1-12 or a round bulk quantity, a subtotal and VAT line, the total with its
    currency as a code or a symbol.
    ``extra`` records the styles chosen."""
    rng = random.Random(f"invoice-{seed}")
    number_style = rng.choice(sorted(NUMBER_STYLES))
    date_style = rng.choice(DATE_STYLES)
    currency = rng.choice(("EUR", "USD", "GBP", "CHF"))
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency)
    printed_currency = symbol if symbol and rng.random() < 0.25 else currency
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(1000))
    year = day.year
    number = rng.choice(
        (
            f"INV-{year}-{rng.randrange(10000):04d}",
            f"{year}/{rng.randrange(100000):05d}",
            f"RE-{rng.randrange(10000, 99999)}",
            f"A{rng.randrange(1000000):06d}",
        )
    )
    count = rng.randint(1, 8)
    items = []
    for name in rng.sample(_PRODUCTS, count):
        quantity = rng.choice((*range(1, 13), 25, 50, 100))
        price = round(rng.choice((rng.uniform(0.5, 40), rng.uniform(40, 2500))), 2)
        items.append((name, quantity, price, round(quantity * price, 2)))
    subtotal = round(sum(i[3] for i in items), 2)
    rate = rng.choice((7.0, 8.1, 10.0, 19.0, 20.0))
    tax = round(subtotal * rate / 100, 2)
    total = round(subtotal + tax, 2)
    vendor = rng.choice(_VENDORS)
    customer = rng.choice(_CUSTOMERS)
    amount = partial(format_amount, style=number_style)
    rows: list[list[tuple[str, float, str | None]]] = [
        [("Description", 50, None), ("Qty", 300, None), ("Unit price", 360, None),
         ("Amount", 470, None)],
    ]  # fmt: skip
    for index, (name, quantity, price, line_total) in enumerate(items):
        base = f"/line_items/{index}"
        rows.append(
            [
                (name, 50, f"{base}/description"),
                (str(quantity), 300, f"{base}/quantity"),
                (amount(price), 360, f"{base}/unit_price"),
                (amount(line_total), 470, f"{base}/amount"),
            ]
        )
    bottom = 250 + 22 * len(rows) + 20
    runs = [
        Run(vendor, 50, 70, 18, field="/vendor"),
        Run(rng.choice(_STREETS), 50, 92),
        Run("INVOICE", 440, 70, 18),
        Run("Invoice no.", 50, 150),
        Run(number, 160, 150, field="/invoice_number"),
        Run("Invoice date", 50, 170),
        Run(format_date(day, date_style), 160, 170, field="/invoice_date"),
        Run("Customer", 50, 190),
        Run(customer, 160, 190, field="/customer"),
        *_table(rows, 250, 22),
        Run("Subtotal", 340, bottom),
        Run(amount(subtotal), 470, bottom),
        Run(f"VAT {rate:g}%", 340, bottom + 20),
        Run(amount(tax), 470, bottom + 20),
        Run("Total", 340, bottom + 40),
        Run(printed_currency, 400, bottom + 40, field="/currency"),
        Run(amount(total), 470, bottom + 40, field="/total"),
        Run(f"Payable within {rng.choice((14, 30, 60))} days. Thank you for your order.", 50,
            bottom + 90, 9),
    ]  # fmt: skip
    data = {
        "vendor": vendor,
        "invoice_number": number,
        "invoice_date": day.isoformat(),
        "customer": customer,
        "currency": currency,
        "total": total,
        "line_items": [
            {"description": n, "quantity": q, "unit_price": p, "amount": a} for n, q, p, a in items
        ],
        "summary": f"{count} items from {vendor}",
    }
    transcribed = invoice_page().transcribed
    extra = {"number_style": number_style, "date_style": date_style, "items": count}
    return TestPage(tuple(runs), data, transcribed, extra=extra)


def _mrz_name(text: str) -> str:
    return text.replace(" ", "<")


def generated_passport(seed: int) -> TestPage:
    """A passport data page drawn from ``seed``: names, number, nationality, sex, place and
    dates (``12 AUG 1974``), and a TD3 machine-readable zone with correct check digits, where
    the same dates read ``740812``."""
    from schemas.checks.mrz import check_digit

    rng = random.Random(f"passport-{seed}")
    code, nationality, country = rng.choice(_COUNTRIES)
    surname, given = rng.choice(_SURNAMES), rng.choice(_GIVEN)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    number = rng.choice(letters) + "".join(rng.choice("0123456789") for _ in range(6))
    number += rng.choice(letters) + rng.choice("0123456789")
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    issued = date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 9))
    expires = issued.replace(year=issued.year + 10) - timedelta(days=1)
    sex = rng.choice("MF")
    place = rng.choice(_CITIES)

    def printed(day: date) -> str:
        return day.strftime("%d %b %Y").upper()

    def yymmdd(day: date) -> str:
        return day.strftime("%y%m%d")

    personal = "".join(rng.choice("0123456789") for _ in range(8)).ljust(14, "<")
    line1 = f"P<{code}{_mrz_name(surname)}<<{_mrz_name(given)}".ljust(44, "<")[:44]
    body = (
        number + check_digit(number) + code + yymmdd(born) + check_digit(yymmdd(born)) + sex
        + yymmdd(expires) + check_digit(yymmdd(expires)) + personal + check_digit(personal)
    )  # fmt: skip
    composite = body[0:10] + body[13:20] + body[21:43]
    line2 = body + check_digit(composite)
    label, value = 50, 200
    fields = [
        ("Passport No.", number, "/passport_number"),
        ("Surname", surname, "/surname"),
        ("Given names", given, "/given_names"),
        ("Nationality", nationality, "/nationality"),
        ("Date of birth", printed(born), "/date_of_birth"),
        ("Sex", sex, "/sex"),
        ("Place of birth", place, "/place_of_birth"),
        ("Date of issue", printed(issued), "/date_of_issue"),
        ("Date of expiry", printed(expires), "/date_of_expiry"),
    ]
    runs = [Run("PASSPORT", label, 70, 20), Run(country, 400, 70, 16)]
    for index, (name, text, pointer) in enumerate(fields):
        runs.append(Run(name, label, 130 + 26 * index, 9))
        runs.append(Run(text, value, 130 + 26 * index, 12, field=pointer))
    runs += [Run(line, 40, 420 + 22 * i, 12, mono=True) for i, line in enumerate((line1, line2))]
    data = {
        "passport_number": number,
        "surname": surname,
        "given_names": given,
        "nationality": nationality,
        "date_of_birth": born.isoformat(),
        "sex": sex,
        "place_of_birth": place,
        "date_of_issue": issued.isoformat(),
        "date_of_expiry": expires.isoformat(),
    }
    return TestPage(tuple(runs), data, _printed_fields(fields), extra={"mrz": (line1, line2)})


def generated_documents(invoices: int = 20, passports: int = 20) -> list[tuple[str, TestPage]]:
    """``(kind, page)`` for ``invoices`` generated invoices then ``passports`` passports,
    seeds 0, 1, ...: deterministic, so a benchmark and a test see the same documents."""
    return [("invoice", generated_invoice(s)) for s in range(invoices)] + [
        ("passport", generated_passport(s)) for s in range(passports)
    ]
