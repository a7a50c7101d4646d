"""Bodies are valid JSON with the image spliced in exactly."""

from __future__ import annotations

import json

from loadtest.config import RunConfig
from loadtest.corpus import build_corpus
from loadtest.payloads import chat_body, extract_body

IMAGE = build_corpus(seed=0, size=1, scale=0.2)[0]


def test_stream_chat_body_has_image_first_and_usage() -> None:
    cfg = RunConfig(model="m", max_tokens=33, num_crops=16, ignore_eos=True)
    body = json.loads(chat_body(cfg, IMAGE, 'Say "hi"\n', stream=True))
    content = body["messages"][0]["content"]
    assert content[0] == {"type": "image_url", "image_url": {"url": IMAGE.data_url}}
    assert content[1] == {"type": "text", "text": 'Say "hi"\n'}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["mm_processor_kwargs"] == {"num_crops": 16}
    assert body["max_tokens"] == 33 and body["ignore_eos"] is True and body["model"] == "m"


def test_plain_chat_body_leaves_server_defaults_alone() -> None:
    body = json.loads(chat_body(RunConfig(), IMAGE, "q", stream=False))
    assert body["stream"] is False
    assert not {"stream_options", "mm_processor_kwargs", "ignore_eos"} & set(body)


def test_extract_body() -> None:
    assert json.loads(extract_body(RunConfig(), IMAGE)) == {"image_url": IMAGE.data_url}
    body = json.loads(extract_body(RunConfig(num_crops=4, extract_max_tokens=200), IMAGE))
    assert body == {"image_url": IMAGE.data_url, "num_crops": 4, "max_tokens": 200}
