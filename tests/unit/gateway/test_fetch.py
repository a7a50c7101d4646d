"""SSRF-safe fetching: address checks after DNS, redirects re-checked, byte cap, allowlist."""

from __future__ import annotations

import asyncio
import io
import ipaddress

import httpx
import pytest
from PIL import Image

from gateway.errors import GatewayError
from gateway.images import ImagePart, rewrite_images, validate_image_url
from gateway.images import fetch as fetch_module
from gateway.images.fetch import address_refusal, fetch_image, host_allowed
from gateway.settings import Settings

PARAM = "messages[0].content[0].image_url"
PUBLIC = "93.184.215.14"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names resolve through this table; IP literals resolve to themselves."""
    table: dict[str, list[str]] = {"images.example": [PUBLIC]}

    async def resolve(host: str, port: int) -> list[object]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            if host not in table:
                raise OSError("no such host") from None
            return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(fetch_module, "_resolve", resolve)
    return table


def _client(handler: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


async def _refused(
    url: str, client: httpx.AsyncClient, settings: Settings | None = None
) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        await fetch_image(url, settings or Settings(), client, param=PARAM)
    assert info.value.param == PARAM
    return info.value


@pytest.mark.parametrize(
    "address,refused",
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("172.16.5.4", True),
        ("169.254.169.254", True),
        ("169.254.1.1", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),
        ("::ffff:127.0.0.1", True),
        ("2002:7f00:1::", True),
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        (PUBLIC, False),
    ],
)
def test_address_policy(address: str, refused: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert (address_refusal(ip, allow_private=False) is not None) is refused


def test_metadata_stays_refused_even_with_private_fetch_allowed() -> None:
    assert address_refusal(ipaddress.ip_address("169.254.169.254"), allow_private=True)
    assert address_refusal(ipaddress.ip_address("fd00:ec2::254"), allow_private=True)
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None


def test_allowlist_matching() -> None:
    assert host_allowed("anything.test", [])
    assert host_allowed("Images.Example", ["images.example"])
    assert host_allowed("a.cdn.test", ["*.cdn.test"])
    assert not host_allowed("cdn.test.evil", ["*.cdn.test"])
    assert not host_allowed("other.test", ["images.example"])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://10.0.0.7/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://[fd00:ec2::254]/",
        "http://0x7f000001/a.png",
    ],
)
async def test_private_literals_are_refused_before_connecting(
    url: str, fake_dns: dict[str, list[str]]
) -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"must not connect: {request.url}")

    err = await _refused(url, _client(never))
    assert (err.status, err.code) == (400, "image_fetch_refused")


@pytest.mark.anyio
async def test_names_resolving_to_private_addresses_are_refused(
    fake_dns: dict[str, list[str]],
) -> None:
    fake_dns["internal.example"] = ["10.9.8.7"]
    fake_dns["mixed.example"] = [PUBLIC, "127.0.0.1"]  # one bad answer is enough to refuse
    fake_dns["metadata.example"] = ["169.254.169.254"]

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not connect")

    for host in ("internal.example", "mixed.example", "metadata.example"):
        err = await _refused(f"http://{host}/a.png", _client(never))
        assert "resolves to" in err.message


@pytest.mark.anyio
async def test_localhost_is_refused_with_real_dns() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not connect")

    err = await _refused("http://localhost:1/a.png", _client(never))
    assert err.code == "image_fetch_refused"


@pytest.mark.anyio
async def test_connects_to_the_checked_address_with_the_original_host(
    fake_dns: dict[str, list[str]],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_png())

    data = await fetch_image(
        "https://images.example/pic.png?x=1", Settings(), _client(handler), param=PARAM
    )
    assert data == _png()
    (request,) = seen
    assert request.url.host == PUBLIC and request.url.path == "/pic.png"
    assert request.headers["host"] == "images.example"
    assert request.extensions["sni_hostname"] == "images.example"


@pytest.mark.anyio
async def test_redirect_to_a_private_address_is_refused(fake_dns: dict[str, list[str]]) -> None:
    hops: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hops.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://10.0.0.5/secret.png"})

    err = await _refused("http://images.example/a.png", _client(handler))
    assert err.code == "image_fetch_refused" and "10.0.0.5" not in hops[-1]
    assert len(hops) == 1


@pytest.mark.anyio
async def test_public_redirects_are_followed_up_to_the_limit(
    fake_dns: dict[str, list[str]],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/final.png":
            return httpx.Response(200, content=_png())
        return httpx.Response(301, headers={"location": "/final.png"})

    assert (
        await fetch_image("http://images.example/a.png", Settings(), _client(handler), param=PARAM)
        == _png()
    )

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "/again"})

    err = await _refused("http://images.example/a.png", _client(loop))
    assert "redirected more than" in err.message


@pytest.mark.anyio
async def test_allowlist_is_enforced(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["other.example"] = [PUBLIC]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_png())

    settings = Settings(fetch_allowed_hosts=["images.example"])
    err = await _refused("http://other.example/a.png", _client(handler), settings)
    assert "allowlist" in err.message
    assert await fetch_image("http://images.example/a.png", settings, _client(handler), param=PARAM)


@pytest.mark.anyio
async def test_byte_cap_while_streaming(fake_dns: dict[str, list[str]]) -> None:
    async def body() -> object:
        for _ in range(100):
            yield b"x" * 1000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())  # no content-length: must count

    err = await _refused(
        "http://images.example/big", _client(handler), Settings(fetch_max_bytes=10_000)
    )
    assert (err.status, err.code) == (413, "image_too_large")

    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "999999999"}, content=b"")

    err = await _refused(
        "http://images.example/big", _client(declared), Settings(fetch_max_bytes=10_000)
    )
    assert err.status == 413


@pytest.mark.anyio
async def test_http_errors_and_unknown_hosts_are_400(fake_dns: dict[str, list[str]]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    err = await _refused("http://images.example/missing.png", _client(handler))
    assert err.status == 400 and "404" in err.message
    err = await _refused("http://nowhere.example/a.png", _client(handler))
    assert err.status == 400 and "resolve" in err.message


@pytest.mark.anyio
async def test_fetched_image_becomes_a_data_url(fake_dns: dict[str, list[str]]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_png(), headers={"content-type": "text/plain"})

    out = await validate_image_url(
        "http://images.example/a", Settings(), _client(handler), param=PARAM
    )
    assert out.startswith("data:image/png;base64,")


def _image_parts(*urls: str) -> list[ImagePart]:
    return [
        ImagePart(f"messages[0].content[{i}].image_url", {"url": url}) for i, url in enumerate(urls)
    ]


@pytest.mark.anyio
async def test_the_images_of_one_request_are_fetched_at_the_same_time(
    fake_dns: dict[str, list[str]],
) -> None:
    # Each answer waits until both fetches have arrived: fetched one after the other, the
    # first would give up and answer 503, and the request would fail.
    both_arrived = asyncio.Barrier(2)

    async def handler(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.wait_for(both_arrived.wait(), 5)
        except TimeoutError:
            return httpx.Response(503)
        return httpx.Response(200, content=_png(), headers={"content-type": "image/png"})

    parts = _image_parts("http://images.example/a.png", "http://images.example/b.png")
    assert await rewrite_images({}, parts, Settings(), _client(handler))
    assert all(part.holder["url"].startswith("data:image/png;base64,") for part in parts)
    assert parts[0].digest is not None  # the routing key


@pytest.mark.anyio
async def test_the_first_failing_image_is_named_whichever_fails_first(
    fake_dns: dict[str, list[str]],
) -> None:
    async def slow_404(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)  # the data URL of part 1 has long failed by now
        return httpx.Response(404)

    parts = _image_parts("http://images.example/gone.png", "data:image/png;base64,AAAA")
    with pytest.raises(GatewayError) as info:
        await rewrite_images({}, parts, Settings(), _client(slow_404))
    assert info.value.param == "messages[0].content[0].image_url"
