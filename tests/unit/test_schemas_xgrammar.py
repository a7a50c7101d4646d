"""Guided decoding end to end without an engine: xgrammar's behaviour that `schemas.fields`
relies on, and random-weight-like generation under each schema's grammar.

`test_uniform_random_answers_end_and_validate` stands in for the tiny random-weight
checkpoint: its logits are nearly flat, so it picks about uniformly among the tokens the
grammar allows. Every such walk must end (the grammar terminates), its detokenized text must
validate with the Pydantic model, and the median walk must use at most 3/4 of the schema's
``max_tokens`` (list lengths make the tail long, so the tail is not asserted). The vocabulary is
synthetic but shaped like a byte-level BPE: all 256 single bytes (so ill-formed UTF-8 and
control characters are on offer), JSON punctuation pairs, and words of 3-8 characters.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string

import schemas
from schemas import SchemaSpec
from schemas.fields import SAFE_CHAR, SHORT_TEXT_MAX, ShortText

SPECS = schemas.all_specs()
IDS = [spec.name for spec in SPECS]
WALKS = 5
HARD_CAP = 4096
EOS = 0


def grammar(schema: dict[str, Any]) -> xgr.Grammar:
    """Compile like vLLM's xgrammar backend with disable_any_whitespace."""
    return xgr.Grammar.from_json_schema(
        json.dumps(schema), strict_mode=True, any_whitespace=False, separators=(",", ":")
    )


def _vocab(size: int = 6000, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    vocab: list[bytes] = [b"</s>"] + [bytes([b]) for b in range(256)]
    vocab += [p.encode() for p in ('{"', '":', '",', '"}', "},", "[]", '":"', ' "', "nu", "ll")]
    seen = set(vocab)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while len(vocab) < size:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 8)))
        token = (" " + word if rng.random() < 0.5 else word).encode()
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    return vocab


VOCAB = _vocab()


@pytest.fixture(scope="module")
def compiler() -> xgr.GrammarCompiler:
    info = xgr.TokenizerInfo(VOCAB, xgr.VocabType.RAW, stop_token_ids=[EOS])
    return xgr.GrammarCompiler(info, cache_enabled=False)


def _random_answer(compiled: xgr.CompiledGrammar, rng: np.random.Generator) -> tuple[str, int]:
    """Sample uniformly among allowed tokens until the grammar ends; return text and tokens."""
    matcher = xgr.GrammarMatcher(compiled)
    bitmask = xgr.allocate_token_bitmask(1, len(VOCAB))
    ids: list[int] = []
    while not matcher.is_terminated():
        assert len(ids) < HARD_CAP, "the grammar did not end: an unbounded field?"
        matcher.fill_next_token_bitmask(bitmask)
        bits = np.unpackbits(bitmask.numpy().view(np.uint8), bitorder="little")[: len(VOCAB)]
        token = int(rng.choice(np.flatnonzero(bits)))
        assert matcher.accept_token(token)
        ids.append(token)
    raw = b"".join(VOCAB[i] for i in ids if i != EOS)
    return raw.decode("utf-8", errors="replace"), len(ids)  # as vLLM's detokenizer does


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_uniform_random_answers_end_and_validate(
    spec: SchemaSpec[Any], compiler: xgr.GrammarCompiler
) -> None:
    compiled = compiler.compile_json_schema(
        json.dumps(spec.json_schema()), any_whitespace=False, separators=(",", ":")
    )
    rng = np.random.default_rng(sum(map(ord, spec.name)))
    used = []
    for _ in range(WALKS):
        text, tokens = _random_answer(compiled, rng)
        spec.model.model_validate_json(text)
        used.append(tokens)
    median = float(np.median(used))
    assert median <= 0.75 * spec.max_tokens, f"{spec.name}: median {median} tokens of {used}"


def test_maxlength_strings_admit_raw_control_characters() -> None:
    """Canary for xgrammar#800 (0.2.8): why `fields` bounds text with a pattern instead.

    If this starts failing, xgrammar's ``maxLength`` rule emits valid JSON again, and
    ``ShortText``/``Text`` could go back to ``max_length``.
    """
    bounded = grammar({"type": "string", "maxLength": 10})
    assert _is_grammar_accept_string(bounded, '"a\tb"')
    assert not _is_grammar_accept_string(grammar({"type": "string"}), '"a\tb"')


@pytest.mark.parametrize("text", ['"a\tb"', '"a\x01b"', '"a"b"', '"a\\\\b"', '"a\\"b"'])
def test_safe_text_pattern_admits_no_control_quote_or_escape(text: str) -> None:
    safe = grammar({"type": "string", "pattern": f"^{SAFE_CHAR}{{0,{SHORT_TEXT_MAX}}}$"})
    assert not _is_grammar_accept_string(safe, text)
    assert _is_grammar_accept_string(safe, '"Zoë 中文 <<< 1/2"')
    assert not _is_grammar_accept_string(safe, '"' + "x" * (SHORT_TEXT_MAX + 1) + '"')


def test_ill_formed_utf8_the_grammar_admits_still_validates() -> None:
    """xgrammar takes an overlong 3-byte sequence as one character; it decodes to 3 U+FFFD."""
    from pydantic import TypeAdapter

    value = b"x" * (SHORT_TEXT_MAX - 1) + b"\xe0\x92\xbc"
    schema = TypeAdapter(ShortText).json_schema()
    matcher = xgr.testing._get_matcher_from_grammar(grammar(schema))
    assert matcher.accept_string(b'"' + value + b'"') and matcher.is_terminated()
    decoded = value.decode("utf-8", errors="replace")
    assert len(decoded) > SHORT_TEXT_MAX
    assert TypeAdapter(ShortText).validate_python(decoded) == decoded


def test_bounded_numbers_have_no_exponent_form() -> None:
    amount = schemas.get("invoice").json_schema()["properties"]["total"]
    compiled = grammar(amount)
    assert _is_grammar_accept_string(compiled, "1234.5")
    assert not _is_grammar_accept_string(compiled, "1e999")


@pytest.fixture(scope="module")
def vllm_like_compiler(tiny_checkpoint: Path) -> xgr.GrammarCompiler:
    """A compiler set up exactly as vLLM 0.32's xgrammar backend does (cache on)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_checkpoint, trust_remote_code=True)
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=32064)
    return xgr.GrammarCompiler(info, max_threads=8, cache_enabled=True)


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_compiles_the_way_vllm_compiles_it(
    vllm_like_compiler: xgr.GrammarCompiler, name: str
) -> None:
    schema = json.dumps(schemas.get(name).json_schema())
    vllm_like_compiler.compile_json_schema(schema, any_whitespace=False, separators=(",", ":"))


def test_bounds_over_128_crash_the_cached_compile(
    vllm_like_compiler: xgr.GrammarCompiler,
) -> None:
    """Canary: why text bounds stay <= 128. When this starts passing compile, xgrammar has
    fixed the bug and the bounds may grow."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string", "pattern": f"^{SAFE_CHAR}{{0,129}}$"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    with pytest.raises(RuntimeError, match="per_rule_fsm_hashes"):
        vllm_like_compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
