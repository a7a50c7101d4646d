"""The extraction request keeps out the tokens that spell no text, and only those."""

from __future__ import annotations

import json

from gateway.pipeline.prompt import NO_TEXT_TOKEN_IDS, STOP_TOKEN_IDS, build_request
from schemas import get
from serve.tiny import GENERATION_CONFIG
from serve.tiny_tokenizer import ADDED_TOKENS, ORDINARY, VOCAB_SIZE


def test_every_special_token_but_the_stop_tokens_is_kept_out() -> None:
    body = json.loads(
        build_request(
            get("passport"),
            model="m",
            image_data_url="data:image/png;base64,AA==",
            hint=None,
            num_crops=4,
            max_tokens=10,
            temperature=1.0,
        )
    )
    biased = {int(i) for i, bias in body["logit_bias"].items() if bias == -100}
    special = set(range(ORDINARY, ORDINARY + len(ADDED_TOKENS)))
    assert set(STOP_TOKEN_IDS) == set(GENERATION_CONFIG["eos_token_id"])  # type: ignore[arg-type]
    assert biased == set(range(ORDINARY, VOCAB_SIZE)) - set(STOP_TOKEN_IDS)
    assert special - set(STOP_TOKEN_IDS) <= biased and not biased & set(STOP_TOKEN_IDS)
    assert len(NO_TEXT_TOKEN_IDS) == VOCAB_SIZE - ORDINARY - len(STOP_TOKEN_IDS)
