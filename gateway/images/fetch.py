"""SSRF-safe fetching of image URLs: the gateway fetches, vLLM never does.

For every hop (the first URL and each redirect, up to ``fetch_max_redirects``):

1. the scheme must be http or https, and the host must be on the allowlist if one is set;
2. the host name is resolved here, and *every* address it resolves to must be public: no
   private, loopback, link-local, multicast, reserved, unspecified or shared (CGNAT) address,
   and never a cloud metadata address (even with ``allow_private_fetch``);
3. the request goes to the checked IP address itself, with the original ``Host`` header and TLS
   server name, so a second DNS answer cannot swap in another address (DNS rebinding).

The body is read as a stream and cut off at ``fetch_max_bytes``; the whole fetch, DNS and
redirects included, must finish within ``fetch_timeout_s``. Keep-alive is off for the fetch
client so that a connection opened for one host name is never reused for another.

    data = await fetch_image(url, settings, client, param="messages[0].content[1].image_url")
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from ..errors import ErrorCode, GatewayError
from ..settings import Settings

__all__ = ["fetch_image", "make_fetch_client", "address_refusal", "host_allowed", "METADATA_IPS"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_IPS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def make_fetch_client(settings: Settings) -> httpx.AsyncClient:
    """The client for image fetches: no redirects followed, no env proxies, no keep-alive."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.fetch_timeout_s),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        headers={"user-agent": "vision-gateway-image-fetch/1", "accept": "image/*"},
    )


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a resolved address may not be fetched from, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip in METADATA_IPS:
        return "a cloud metadata address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "a private or reserved address"
    return None


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Exact host names, or ``*.example.com`` for any subdomain; an empty list allows all."""
    if not allowed:
        return True
    host = host.lower().rstrip(".")
    for pattern in allowed:
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if host == pattern:
            return True
    return False


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def _checked_target(url: str, settings: Settings, param: str) -> tuple[httpx.URL, str]:
    """Check one hop; return the URL to connect to (host = checked IP) and the Host header."""

    def refuse(why: str) -> GatewayError:
        return GatewayError(
            400, f"image URL refused: {why}", param=param, code=ErrorCode.IMAGE_FETCH_REFUSED
        )

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise refuse(f"scheme '{parts.scheme}:' is not allowed (use https, http or data)")
    host = parts.hostname
    if not host:
        raise refuse("no host")
    if parts.username or parts.password:
        raise refuse("credentials in URLs are not allowed")
    if not host_allowed(host, settings.fetch_allowed_hosts):
        raise refuse(f"host '{host}' is not on the allowlist")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise refuse("bad port") from exc
    try:
        addresses = await _resolve(host, port)
    except OSError as exc:
        raise refuse(f"host '{host}' does not resolve") from exc
    if not addresses:
        raise refuse(f"host '{host}' does not resolve")
    for ip in addresses:
        if why := address_refusal(ip, settings.allow_private_fetch):
            raise refuse(f"host '{host}' resolves to {why}")
    target = httpx.URL(url).copy_with(host=str(addresses[0]))
    return target, parts.netloc.rpartition("@")[2]


async def fetch_image(
    url: str,
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    param: str,
    max_bytes: int | None = None,
) -> bytes:
    """Fetch ``url`` under every rule above; raise ``GatewayError`` (400/413) naming ``param``.
    ``max_bytes`` replaces ``fetch_max_bytes`` (the extraction API fetches documents too)."""
    try:
        with anyio.fail_after(settings.fetch_timeout_s):
            return await _fetch(url, settings, client, param, max_bytes or settings.fetch_max_bytes)
    except TimeoutError as exc:
        raise GatewayError(
            400,
            f"image fetch timed out after {settings.fetch_timeout_s:g} s",
            param=param,
            code=ErrorCode.IMAGE_FETCH_FAILED,
        ) from exc


async def _fetch(
    url: str, settings: Settings, client: httpx.AsyncClient, param: str, cap: int
) -> bytes:
    for _hop in range(settings.fetch_max_redirects + 1):
        target, host_header = await _checked_target(url, settings, param)
        extensions = {"sni_hostname": urlsplit(url).hostname} if target.scheme == "https" else {}
        request = client.build_request(
            "GET", target, headers={"host": host_header}, extensions=extensions
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _fetch_failed(exc, param) from exc
        try:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise GatewayError(
                    400,
                    f"image URL answered HTTP {response.status_code}",
                    param=param,
                    code=ErrorCode.IMAGE_FETCH_FAILED,
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise _too_large(cap, param)
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > cap:
                    raise _too_large(cap, param)
            return bytes(data)
        except httpx.HTTPError as exc:
            raise _fetch_failed(exc, param) from exc
        finally:
            await response.aclose()
    raise GatewayError(
        400,
        f"image URL redirected more than {settings.fetch_max_redirects} times",
        param=param,
        code=ErrorCode.IMAGE_FETCH_REFUSED,
    )


def _fetch_failed(exc: httpx.HTTPError, param: str) -> GatewayError:
    return GatewayError(
        400,
        f"image fetch failed: {type(exc).__name__}",
        param=param,
        code=ErrorCode.IMAGE_FETCH_FAILED,
    )


def _too_large(cap: int, param: str) -> GatewayError:
    return GatewayError(
        413, f"image at URL is larger than {cap} bytes", param=param, code=ErrorCode.IMAGE_TOO_LARGE
    )
