"""The real gateway process over loopback, in front of a stub upstream: auth, limits, image
refusals through the HTTP API, and upstream faults. No engine needed."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway_server import GatewayServer, Proc, start_gateway
from tests.support.images import image_bytes, make_image
from tests.support.procs import free_port

CHAT = {"model": "stub", "messages": [{"role": "user", "content": "hi"}]}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _image_body(url: str, *, index_text: bool = True) -> dict[str, Any]:
    content: list[dict[str, Any]] = (
        [{"type": "text", "text": "what is this?"}] if index_text else []
    )
    content.append({"type": "image_url", "image_url": {"url": url}})
    return {
        "model": "stub",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": content},
        ],
    }


def _error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return dict(body["error"])


# --- the happy path through the SDK ---------------------------------------------------------


def test_sdk_chat_and_stream_through_gateway(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("sdk")
    client = openai.OpenAI(base_url=stub_gateway.base_url + "/v1", api_key=key, max_retries=0)
    reply = client.chat.completions.create(
        model="stub", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from the stub."
    chunks = list(
        client.chat.completions.create(
            model="stub",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    assert [m.id for m in client.models.list()] == ["stub"]


# --- auth ------------------------------------------------------------------------------------


def test_auth_failures(stub_gateway: GatewayServer) -> None:
    url = stub_gateway.base_url + "/v1/chat/completions"
    good = stub_gateway.create_key("auth-good", scopes=["chat"])
    extract_only = stub_gateway.create_key("auth-extract", scopes=["extract"])
    expired = stub_gateway.create_key("auth-expired", expires_at=time.time() - 1)
    revoked = stub_gateway.create_key("auth-revoked")
    stub_gateway.cli("keys", "revoke", "auth-revoked")
    cases = [
        ({}, 401, "missing_api_key"),
        ({"authorization": "Bearer"}, 401, "invalid_api_key"),
        ({"authorization": f"Token {good}"}, 401, "invalid_api_key"),
        ({"authorization": "Bearer sk-" + "z" * 43}, 401, "invalid_api_key"),
        (_auth(revoked), 401, "revoked_api_key"),
        (_auth(expired), 401, "expired_api_key"),
        (_auth(extract_only), 403, "missing_scope"),
    ]
    for headers, status, code in cases:
        r = httpx.post(url, json=CHAT, headers=headers)
        assert (r.status_code, _error(r)["code"]) == (status, code), headers
    assert httpx.post(url, json=CHAT, headers=_auth(good)).status_code == 200
    assert (
        httpx.get(stub_gateway.base_url + "/v1/models", headers=_auth(extract_only)).status_code
        == 403
    )


def test_sdk_surfaces_auth_errors(stub_gateway: GatewayServer) -> None:
    client = openai.OpenAI(
        base_url=stub_gateway.base_url + "/v1", api_key="sk-" + "q" * 43, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError, match="unknown API key"):
        client.chat.completions.create(model="stub", messages=[{"role": "user", "content": "x"}])


def test_open_routes_and_metrics_needs_a_key(stub_gateway: GatewayServer) -> None:
    base = stub_gateway.base_url
    assert httpx.get(base + "/health").status_code == 200
    ready = httpx.get(base + "/ready").json()
    assert ready["status"] == "ready" and [r["up"] for r in ready["replicas"]] == [True]
    assert httpx.get(base + "/openapi.json").status_code == 200
    assert httpx.get(base + "/docs").status_code == 200
    assert httpx.get(base + "/metrics").status_code == 401
    key = stub_gateway.create_key("metrics-reader")
    text = httpx.get(base + "/metrics", headers=_auth(key)).text
    assert "gateway_requests_total" in text and "gateway_stream_ttft_seconds" in text


def test_no_other_vllm_route_is_reachable(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("routes")
    for path in ("/v1/completions", "/v1/embeddings", "/tokenize", "/v1/stub/events"):
        assert (
            httpx.post(stub_gateway.base_url + path, headers=_auth(key), json={}).status_code == 404
        )


def test_revoked_key_is_refused_within_a_second(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("soon-revoked")
    url = stub_gateway.base_url + "/v1/chat/completions"
    assert httpx.post(url, json=CHAT, headers=_auth(key)).status_code == 200
    done = stub_gateway.cli("keys", "revoke", "soon-revoked")
    assert done.returncode == 0, done.stderr
    time.sleep(1.05)  # the promise: revocation is visible within one second, no restart
    r = httpx.post(url, json=CHAT, headers=_auth(key))
    assert (r.status_code, _error(r)["code"]) == (401, "revoked_api_key")


def test_rpm_limit_is_429_with_retry_after(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("rpm-2", rpm=2)
    url = stub_gateway.base_url + "/v1/chat/completions"
    statuses = [httpx.post(url, json=CHAT, headers=_auth(key)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert _error(statuses[2])["type"] == "rate_limit_error"
    assert 1 <= int(statuses[2].headers["retry-after"]) <= 60


def test_concurrency_limit_is_429_and_frees_after_the_stream(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("conc-1", max_concurrent=1)
    url = stub_gateway.base_url + "/v1/chat/completions"
    drip = {**CHAT, "model": "stub-drip", "stream": True}
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", url, json=drip, headers=_auth(key)) as held:
            assert held.status_code == 200
            chunks = held.iter_raw()  # keep a reference: a dropped iterator closes the stream
            next(chunks)  # the stream is open and holds the key's only slot
            second = client.post(url, json=CHAT, headers=_auth(key))
            assert second.status_code == 429 and second.headers["retry-after"] == "1"
            assert _error(second)["code"] == "concurrency_limit_exceeded"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.post(url, json=CHAT, headers=_auth(key)).status_code == 200:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the slot was not given back after the stream closed")


# --- request checks ----------------------------------------------------------------------------


def test_body_checks(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("body")
    url = stub_gateway.base_url + "/v1/chat/completions"
    r = httpx.post(url, content=b'{"model": "stub", "messages": [', headers=_auth(key))
    assert r.status_code == 400 and "not valid JSON" in _error(r)["message"]
    r = httpx.post(url, content=b"x" * 2_000_001, headers=_auth(key))
    assert (r.status_code, _error(r)["code"]) == (413, "body_too_large")
    r = httpx.post(url, json={**CHAT, "max_tokens": 100_000}, headers=_auth(key))
    assert (r.status_code, _error(r)["param"]) == (400, "max_tokens")
    r = httpx.post(url, json={**CHAT, "n": 50}, headers=_auth(key))
    assert (r.status_code, _error(r)["param"]) == (400, "n")
    r = httpx.post(url, json={**CHAT, "messages": []}, headers=_auth(key))
    assert (r.status_code, _error(r)["param"]) == (400, "messages")
    r = httpx.post(url, json={**CHAT, "mm_processor_kwargs": {"num_crops": 64}}, headers=_auth(key))
    assert (r.status_code, _error(r)["param"]) == (400, "mm_processor_kwargs.num_crops")


def _png_url(w: int = 64, h: int = 48) -> str:
    return (
        "data:image/png;base64," + base64.b64encode(image_bytes(make_image(w, h), "PNG")).decode()
    )


@pytest.mark.parametrize(
    "url,status,code",
    [
        ("data:image/png;base64,%%%%", 400, "image_bad_base64"),
        (
            "data:image/png;base64," + base64.b64encode(b"plain text").decode(),
            400,
            "image_not_an_image",
        ),
        (
            "data:image/tiff;base64,"
            + base64.b64encode(image_bytes(make_image(8, 8), "TIFF")).decode(),
            400,
            "document_needs_extraction",  # a TIFF is a document: the extraction API reads it
        ),
        (
            "data:image/svg+xml;base64," + base64.b64encode(b"<svg xmlns='x'/>").decode(),
            400,
            "image_unsupported_format",
        ),
        (
            "data:image/bmp;base64,"
            + base64.b64encode(image_bytes(make_image(500, 400), "BMP")).decode(),
            413,
            "image_too_large",
        ),
        (_png_url(2100, 2000), 413, "image_too_many_pixels"),
        ("file:///etc/passwd", 400, "image_fetch_refused"),
        ("http://127.0.0.1:9/cat.png", 400, "image_fetch_refused"),
        ("http://169.254.169.254/latest/meta-data/", 400, "image_fetch_refused"),
        ("http://[::1]/x.png", 400, "image_fetch_refused"),
        ("http://10.1.2.3/x.png", 400, "image_fetch_refused"),
        ("http://localhost/x.png", 400, "image_fetch_refused"),
    ],
)
def test_image_refusals_name_message_and_part(
    stub_gateway: GatewayServer, url: str, status: int, code: str
) -> None:
    key = stub_gateway.create_key(f"img-{code}-{status}-{abs(hash(url)) % 10**8}")
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions",
        json=_image_body(url),
        headers=_auth(key),
        timeout=30,
    )
    err = _error(r)
    assert (r.status_code, err["code"]) == (status, code), err
    assert err["param"] == "messages[1].content[1].image_url"


def test_too_many_images_is_422_naming_the_limit(stub_gateway: GatewayServer) -> None:
    """The default limit is cpu-dev's 20 (GATEWAY_MAX_IMAGES_PER_REQUEST): the 21st is over."""
    key = stub_gateway.create_key("img-many")
    part = {"type": "image_url", "image_url": {"url": _png_url()}}
    body = {"model": "stub", "messages": [{"role": "user", "content": [part] * 21}]}
    r = httpx.post(stub_gateway.base_url + "/v1/chat/completions", json=body, headers=_auth(key))
    err = _error(r)
    assert (r.status_code, err["code"], err["param"]) == (
        422,
        "too_many_images",
        "messages[0].content[20].image_url",
    )
    assert "at most 20" in str(err["message"])


def test_valid_images_pass_and_rejections_are_counted(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("img-ok")
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions",
        json=_image_body(_png_url()),
        headers=_auth(key),
    )
    assert r.status_code == 200
    metrics = httpx.get(stub_gateway.base_url + "/metrics", headers=_auth(key)).text
    assert 'gateway_images_rejected_total{reason="image_fetch_refused"}' in metrics


def test_logs_are_json_lines_without_keys_or_image_bytes(stub_gateway: GatewayServer) -> None:
    import json

    key = stub_gateway.create_key("logged")
    url = _png_url(32, 32)
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions", json=_image_body(url), headers=_auth(key)
    )
    request_id = r.headers["x-request-id"]
    time.sleep(0.2)
    text = stub_gateway.log.read_text()
    assert key not in text and url.split(",", 1)[1][:40] not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    (mine,) = [line for line in lines if line["request_id"] == request_id]
    assert mine["key"] == "logged" and mine["status"] == 200
    assert mine["route"] == "/v1/chat/completions" and mine["prompt_tokens"] == 12
    assert mine["completion_tokens"] == 6 and "upstream_ms" in mine and "latency_ms" in mine


# --- upstream faults -----------------------------------------------------------------------------


def test_upstream_down_is_503_and_gateway_stays_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gw = start_gateway(f"http://127.0.0.1:{free_port()}", tmp_path_factory.mktemp("gw-down"))
    try:
        key = gw.create_key("down")
        r = httpx.post(gw.base_url + "/v1/chat/completions", json=CHAT, headers=_auth(key))
        assert (r.status_code, _error(r)["type"]) == (503, "upstream_unavailable")
        r = httpx.post(
            gw.base_url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=_auth(key)
        )
        assert r.status_code == 503
        assert httpx.get(gw.base_url + "/ready").status_code == 503
        assert httpx.get(gw.base_url + "/health").status_code == 200
    finally:
        gw.stop()


def test_slow_upstream_is_504(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("slow")
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions",
        json={**CHAT, "model": "stub-slow"},
        headers=_auth(key),
        timeout=30,
    )
    assert (r.status_code, _error(r)["type"]) == (504, "upstream_timeout")
    assert httpx.get(stub_gateway.base_url + "/health").status_code == 200


def test_non_json_upstream_is_502(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("nonjson")
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions",
        json={**CHAT, "model": "stub-nonjson"},
        headers=_auth(key),
    )
    assert (r.status_code, _error(r)["code"]) == (502, "upstream_malformed")
    assert httpx.get(stub_gateway.base_url + "/health").status_code == 200


def test_upstream_500_is_retried_once_then_502(
    stub_gateway: GatewayServer, stub_upstream: Proc
) -> None:
    """vLLM answers 500 on a multimodal cache drift that a resend heals; a 500 that stays is
    a 502 after exactly one retry."""
    key = stub_gateway.create_key("five-hundred")
    before = httpx.get(stub_upstream.base_url + "/stub/events").json()["requests"]
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions",
        json={**CHAT, "model": "stub-500"},
        headers=_auth(key),
    )
    assert r.status_code == 502
    after = httpx.get(stub_upstream.base_url + "/stub/events").json()["requests"]
    assert after - before == 2
    assert httpx.get(stub_gateway.base_url + "/health").status_code == 200


def test_upstream_4xx_passes_through(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("fourxx")
    client = openai.OpenAI(base_url=stub_gateway.base_url + "/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(
            model="stub-error", messages=[{"role": "user", "content": "x"}]
        )


def test_stream_dying_midway_raises_in_the_sdk(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("dies")
    client = openai.OpenAI(
        base_url=stub_gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=30
    )
    received = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        for chunk in client.chat.completions.create(
            model="stub-die", messages=[{"role": "user", "content": "x"}], stream=True
        ):
            received.append(chunk)
    assert received, "chunks before the break are delivered"
    assert httpx.get(stub_gateway.base_url + "/health").status_code == 200


def test_stream_stalling_ends_with_an_error_event(stub_gateway: GatewayServer) -> None:
    key = stub_gateway.create_key("stall")
    body = {**CHAT, "model": "stub-slow", "stream": True}
    r = httpx.post(
        stub_gateway.base_url + "/v1/chat/completions", json=body, headers=_auth(key), timeout=30
    )
    assert r.status_code == 504  # read timeout before any byte: a plain error, not a hang


def test_client_disconnect_cancels_the_upstream_request(
    stub_gateway: GatewayServer, stub_upstream: Proc
) -> None:
    key = stub_gateway.create_key("disconnect")
    before = httpx.get(stub_upstream.base_url + "/stub/events").json()["disconnects"]
    with httpx.Client(timeout=10) as client:
        with client.stream(
            "POST",
            stub_gateway.base_url + "/v1/chat/completions",
            json={**CHAT, "model": "stub-drip", "stream": True},
            headers=_auth(key),
        ) as r:
            chunks = r.iter_raw()
            next(chunks)
            next(chunks)
    # The client is gone; the stub sees its upstream connection closed long before it would
    # have finished (60 s of drip).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = httpx.get(stub_upstream.base_url + "/stub/events").json()
        if events["disconnects"] > before:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the upstream request was not cancelled after the client disconnected")
    assert events["drip_done"] == 0
