"""The extraction pipeline: one path from an input to a judged, typed result, with no HTTP.

caller (route | batch line | job page | Cog predictor)
  ▼  Context (settings, upstream, the key's call budget, a record to fill)
source.py    input: an image, images or a document, checked (SSRF-safe, caps, pre-size)
document.py  pages: a document rendered at the crop grid's size; one reading per page
reading.py   ask + answer: the prompt (prompt.py) to vLLM, the answer validated
single.py    one reading judged (gateway.trust: confidence, checks, review, repair)
document.py  merge: pages → one document with provenance, judged as a whole
run.py       the entry point: extract(ctx, spec, req, source, crops), extract_many
  ▼
result       ExtractResponse | DocumentResponse | MultiExtractResponse (models.py)
"""

from .context import UNBOUNDED, CallBudget, Context
from .lookup import (
    BUILTINS,
    BuiltinSchemas,
    SchemaSource,
    find_schema,
    lookup_schema,
    split_ref,
)
from .run import extract, extract_many
from .source import DocumentInput, Source, load_single, load_source, read_cap

__all__ = [
    "BUILTINS",
    "BuiltinSchemas",
    "SchemaSource",
    "split_ref",
    "find_schema",
    "UNBOUNDED",
    "CallBudget",
    "Context",
    "DocumentInput",
    "Source",
    "extract",
    "extract_many",
    "load_single",
    "load_source",
    "lookup_schema",
    "read_cap",
]
