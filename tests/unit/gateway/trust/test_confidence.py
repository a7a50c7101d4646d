"""Per-field confidence: recorded vLLM answers and constructed token streams, exact values.

The recorded fixtures (``fixtures/logprobs``, made by ``python -m tests.support.record_logprobs``
against the tiny checkpoint on vLLM CPU 0.32) are real: each expected value below names, by
index, the tokens that spell the value, read off the recorded token list by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.trust.confidence import (
    AlignmentError,
    align_tokens,
    field_confidence,
    json_pointer,
    leaf_spans,
    parse_logprobs,
)
from gateway.trust.verdict import confidence_of

FIXTURES = Path(__file__).parent.parent / "fixtures" / "logprobs"


def recorded(case: str) -> tuple[str, list[dict[str, Any]]]:
    fixture = json.loads((FIXTURES / f"{case}.json").read_text())
    choice = fixture["response"]["choices"][0]
    assert choice["finish_reason"] == "stop"
    return choice["message"]["content"], choice["logprobs"]["content"]


def min_prob(tokens: Sequence[dict[str, Any]], indices: Sequence[int]) -> float:
    return round(min(math.exp(tokens[i]["logprob"]) for i in indices), 6)


def walk(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[str]:
    """Independent leaf walk over parsed JSON: scalars and empty containers."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from walk(child, (*path, key))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from walk(child, (*path, index))
    else:
        yield json_pointer(path)


def stream(*pieces: tuple[str, float | None]) -> list[dict[str, Any]]:
    """Tokens as vLLM sends them: text, logprob (None: absent), bytes of the text."""
    return [
        {"token": text, "logprob": None if p is None else math.log(p), "bytes": list(text.encode())}
        for text, p in pieces
    ]


# -- recorded answers ---------------------------------------------------------------------


def test_recorded_mixed_answer_every_leaf_exactly() -> None:
    text, tokens = recorded("mixed")
    assert json.loads(text)["script"] == "呅桪"
    # tokens 18, 19, 21, 22 are vLLM's empty leading bytes of the two Chinese characters
    assert [tokens[i]["token"] for i in (18, 19, 20)] == ["", "", "呅"]
    expected_tokens = {
        "/name": [5, 6, 7],  # '":' carries the value's first character ':'
        "/script": [18, 19, 20, 21, 22, 23],
        "/count": [32],
        "/price": [38, 39, 40],
        "/ok": [47, 48, 49, 50],
        "/kind": [59, 60, 61, 62],
        "/note": [71],
        "/items/0/k": [84],
        "/items/0/v": [90, 91],  # an empty list: its brackets
    }
    expected = {ptr: min_prob(tokens, idx) for ptr, idx in expected_tokens.items()}
    assert field_confidence(text, tokens) == expected
    assert expected["/script"] == min_prob(tokens, [23])  # the least sure byte is the last


def test_recorded_passport_hand_read_leaves() -> None:
    text, tokens = recorded("passport")
    conf = field_confidence(text, tokens)
    assert conf["/document_type"] == min_prob(tokens, [13, 14, 15, 16])  # n u l l
    # ", toteka … motofawe꒿ ": from the fused '",' to the ' "' that adds the last space,
    # the two empty partial-UTF-8 tokens (99, 100) included
    assert tokens[101]["token"] == "꒿" and tokens[99]["token"] == tokens[100]["token"] == ""
    assert conf["/given_names"] == min_prob(tokens, range(88, 103))
    assert tokens[426]["token"] == '"' and tokens[429]["token"] == "<|end|>"
    last = conf["/mrz_lines/2"]
    start = next(i for i in range(425, 0, -1) if tokens[i]["token"].startswith('"'))
    assert last == min_prob(tokens, range(start, 426))


@pytest.mark.parametrize("case", ["passport", "table", "mixed", "passport_special"])
def test_recorded_answers_score_every_leaf_in_unit_range(case: str) -> None:
    text, tokens = recorded(case)
    conf = field_confidence(text, tokens)
    assert list(conf) == list(walk(json.loads(text)))
    assert all(0.0 <= v <= 1.0 for v in conf.values())
    # the grammar forces keys and punctuation: those tokens come back with probability 1
    assert tokens[1]["token"] == '"' and tokens[1]["logprob"] == 0.0


@pytest.mark.parametrize("case", ["passport", "table", "mixed", "passport_special"])
def test_recorded_tokens_cover_the_answer(case: str) -> None:
    text, tokens = recorded(case)
    spans = align_tokens(parse_logprobs(tokens), text.encode())
    assert spans[0][0] == 0 and max(b for _, b in spans) == len(text.encode())
    assert spans[-1][0] == spans[-1][1] == len(text.encode())  # the stop token spells nothing


def test_a_special_token_inside_a_string_spells_nothing_and_is_skipped() -> None:
    """Recorded: seed 11 on the passport schema, the random model wrote ``<|placeholder33|>``
    (token 293) inside a string; vLLM dropped it from the content but listed it."""
    text, tokens = recorded("passport_special")
    assert tokens[293]["token"] == "<|placeholder33|>"
    assert "placeholder" not in text
    spans = align_tokens(parse_logprobs(tokens), text.encode())
    assert spans[293][0] == spans[293][1]  # an empty span: it produced no text
    assert spans[292][1] == spans[294][0]  # its neighbours meet where it would have been
    # tokens 311-314 produced no bytes; the content shows them as four U+FFFD, their span
    start, end = spans[311]
    assert all(spans[i] == (start, end) for i in range(311, 315))
    assert text.encode()[start:end] == "\ufffd".encode() * 4
    conf = confidence_of(text, {"content": tokens})
    assert conf is not None and list(conf) == list(walk(json.loads(text)))


# -- constructed streams ------------------------------------------------------------------


def test_a_value_split_across_tokens_takes_its_least_sure_token() -> None:
    tokens = stream(('{"', 1), ("id", 1), ('":"', 0.9), ("L8", 0.5), ("98", 0.25), ("9", 0.75))
    tokens += stream(('"}', 0.1))
    # '":"' and '"}' touch only the quotes: not the value
    assert field_confidence('{"id":"L8989"}', tokens) == {"/id": 0.25}


def test_escaped_characters_count_in_their_escaped_form() -> None:
    text = r'{"a":"x\"y\\n\u00e9","b":"\n"}'
    assert json.loads(text)["a"] == 'x"y\\né'
    tokens = stream(('{"a":"', 1), ("x", 0.9), ('\\"', 0.8), ("y", 0.9), ("\\\\", 0.7))
    tokens += stream(("n", 0.9), ("\\u00", 0.6), ("e9", 0.9), ('","', 0.05), ("b", 1))
    tokens += stream(('":"', 1), ("\\n", 0.4), ('"}', 1))
    assert field_confidence(text, tokens) == {"/a": 0.6, "/b": 0.4}


def test_non_latin_text_with_empty_leading_byte_tokens() -> None:
    """vLLM 0.32: a character's leading byte tokens come back empty, the last one carries it."""
    tokens = stream(('{"n":"', 1), ("", 0.3), ("", 0.9), ("张", 0.8), ("三", 0.95), ('"}', 1))
    assert field_confidence('{"n":"张三"}', tokens) == {"/n": 0.3}


def test_non_latin_text_reported_as_replacement_characters() -> None:
    tokens = stream(('{"n":"', 1), ("\ufffd", 0.9), ("\ufffd", 0.2), ("\ufffd", 0.9), ("三", 0.7))
    tokens += stream(('"', 1), (",", 1), ('"m":', 1), ("1", 0.6), ("}", 1))
    assert field_confidence('{"n":"张三","m":1}', tokens) == {"/n": 0.2, "/m": 0.6}


def test_raw_bytes_of_partial_characters_align_exactly() -> None:
    """A server that sends each token's own bytes (OpenAI does): no guessing needed."""
    raw = "张".encode()
    tokens = stream(('{"n":"', 1), ("a", 0.9))
    tokens += [{"token": "\ufffd", "logprob": math.log(0.5), "bytes": [b]} for b in raw]
    tokens += stream(('","m":"', 1), ("b", 0.8), ('"}', 1))
    spans = align_tokens(parse_logprobs(tokens), '{"n":"a张","m":"b"}'.encode())
    assert spans[2:5] == [(7, 8), (8, 9), (9, 10)]
    assert field_confidence('{"n":"a张","m":"b"}', tokens) == {"/n": 0.5, "/m": 0.8}


def test_numbers_booleans_enums_and_null() -> None:
    text = '{"n":-12.5e3,"t":true,"f":false,"z":null,"e":"beta","i":0}'
    tokens = stream(('{"n":', 1), ("-", 0.9), ("12", 0.8), (".", 1), ("5", 0.7), ("e3", 0.95))
    tokens += stream((",", 1), ('"t":', 1), ("tr", 0.6), ("ue", 1), (',"f":', 1), ("false", 0.55))
    tokens += stream((',"z":', 1), ("null", 0.45), (',"e":"', 1), ("be", 0.35), ("ta", 1))
    tokens += stream(('","i":', 1), ("0", 0.99), ("}", 1), ("<|end|>", 0.5))
    assert field_confidence(text, tokens) == {
        "/n": 0.7,
        "/t": 0.6,
        "/f": 0.55,
        "/z": 0.45,
        "/e": 0.35,
        "/i": 0.99,
    }


def test_nested_objects_lists_and_empty_containers() -> None:
    text = '{"a":{"b":[1,{"c":null}],"d":[],"e":{}},"l":[[2]]}'
    tokens = stream(('{"a":{"b":[', 1), ("1", 0.9), (',{"c":', 1), ("null", 0.8))
    tokens += stream(('}],"d":', 1), ("[]", 0.7), (',"e":', 1), ("{}", 0.6), ('},"l":[[', 1))
    tokens += stream(("2", 0.5), ("]]}", 1))
    assert field_confidence(text, tokens) == {
        "/a/b/0": 0.9,
        "/a/b/1/c": 0.8,
        "/a/d": 0.7,
        "/a/e": 0.6,
        "/l/0/0": 0.5,
    }


def test_a_token_fusing_punctuation_with_a_value_counts_for_it() -> None:
    tokens = stream(('{"a', 1), ('":1', 0.4), ("0", 0.9), ("}", 1))
    assert field_confidence('{"a":10}', tokens) == {"/a": 0.4}


def test_empty_string_is_scored_by_its_quotes() -> None:
    tokens = stream(('{"a":', 1), ('""', 0.3), ("}", 1))
    assert field_confidence('{"a":""}', tokens) == {"/a": 0.3}


def test_pointer_escaping_follows_rfc_6901() -> None:
    assert json_pointer(["a/b~c", 0, ""]) == "/a~1b~0c/0/"
    assert list(leaf_spans('{"a/b~c":[1],"":2}')) == ["/a~1b~0c/0", "/"]


def test_whitespace_is_nobody_s_value() -> None:
    text = '{\n  "a": 1,\n  "b": [ true ]\n}'
    tokens = stream(("{\n  ", 1), ('"a"', 1), (": ", 0.1), ("1", 0.9), (",\n  ", 0.1))
    tokens += stream(('"b": [ ', 0.2), ("true", 0.8), (" ]\n}", 0.1))
    assert field_confidence(text, tokens) == {"/a": 0.9, "/b/0": 0.8}


def test_missing_logprobs_are_ignored_and_a_leaf_without_any_scores_zero() -> None:
    tokens = stream(('{"a":', 1), ("1", None), ("2", 0.5), (',"b":', 1), ("3", None), ("}", 1))
    assert field_confidence('{"a":12,"b":3}', tokens) == {"/a": 0.5, "/b": 0.0}


def test_a_clamped_logprob_scores_zero() -> None:
    tokens = [*stream(('{"a":', 1)), {"token": "7", "logprob": -9999.0}, *stream(("}", 1))]
    assert field_confidence('{"a":7}', tokens) == {"/a": 0.0}


def test_tokens_that_spell_another_text_are_refused() -> None:
    tokens = stream(('{"a":', 1), ("1", 0.5), ("}", 1))
    with pytest.raises(AlignmentError):
        field_confidence('{"a":12}', tokens)


@pytest.mark.parametrize("text", ['{"a":1', '{"a":1} x', "", '{"a" 1}', "[1,]"])
def test_leaf_spans_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        leaf_spans(text)
