"""Trust in an extracted answer: pure functions of (schema, answer, token data).

Nothing here knows of HTTP, requests or the engine: the extraction pipeline
(`gateway.pipeline`) hands each stage plain data, so the routes, batch workers and the Cog
predictor get the same verdict for the same answer.

confidence.py  per-field confidence from the engine's token logprobs
verdict.py     confidence + checks + needed fields -> review and its reasons
repair.py      judge a reading, and (opt-in) read once more
"""

from .confidence import field_confidence
from .repair import Reading, Repair, TrustOptions, read_judged
from .verdict import ReviewReason, Scope, Verdict, assess, assess_document, reasons_for

__all__ = [
    "Reading",
    "Repair",
    "ReviewReason",
    "Scope",
    "TrustOptions",
    "Verdict",
    "assess",
    "assess_document",
    "field_confidence",
    "read_judged",
    "reasons_for",
]
