"""Where a webhook may go: the image fetcher's SSRF rules, checked twice.

A ``webhook_url`` is checked when the request names it (a 400 naming the field) and again
before every delivery attempt, since DNS may answer differently by then:

1. ``https`` only (plain ``http`` only with ``GATEWAY_ALLOW_PRIVATE_FETCH``, the test
   setting, for a receiver on loopback); no credentials in the URL;
2. the host is resolved here and *every* address must be public, by the image fetcher's own
   rule (``images.fetch.address_refusal``: no private, loopback, link-local, multicast,
   reserved or shared address, and never a cloud metadata address, even in tests);
3. the POST goes to the checked address itself, with the original ``Host`` header and TLS
   server name, so a second DNS answer cannot swap in another address; redirects are never
   followed (a 3xx is a failed attempt).

The image host allowlist (``GATEWAY_FETCH_ALLOWED_HOSTS``) names image hosts and does not
apply to receivers.

    target = await check_target("https://hooks.example.com/in", settings)
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..errors import ErrorCode, GatewayError
from ..images.fetch import IPAddress, address_refusal
from ..settings import Settings

__all__ = ["MAX_URL_CHARS", "Target", "TargetRefused", "check_target", "refusal_error"]

MAX_URL_CHARS = 2048


class TargetRefused(Exception):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked receiver: connect to ``url`` (its host is the checked address) and send
    ``host`` as the ``Host`` header and ``sni`` as the TLS server name."""

    url: httpx.URL
    host: str
    sni: str


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_target(url: str, settings: Settings) -> Target:
    """The receiver ``url`` names, checked now; ``TargetRefused`` if it may not be sent to."""
    if len(url) > MAX_URL_CHARS:
        raise TargetRefused(f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("not a URL with a valid port") from exc
    schemes = ("https", "http") if settings.allow_private_fetch else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused(f"scheme '{parts.scheme}:' is not allowed (use https)")
    host = parts.hostname
    if not host:
        raise TargetRefused("no host")
    if parts.username or parts.password:
        raise TargetRefused("credentials in URLs are not allowed")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await _resolve(host, port)
    except OSError as exc:
        raise TargetRefused(f"host '{host}' does not resolve") from exc
    if not addresses:
        raise TargetRefused(f"host '{host}' does not resolve")
    for ip in addresses:
        if why := address_refusal(ip, settings.allow_private_fetch):
            raise TargetRefused(f"host '{host}' resolves to {why}")
    return Target(httpx.URL(url).copy_with(host=str(addresses[0])), parts.netloc, host)


def refusal_error(why: str, param: str = "webhook_url") -> GatewayError:
    """The 400 a request naming a refused ``webhook_url`` gets."""
    return GatewayError(
        400, f"webhook URL refused: {why}", param=param, code=ErrorCode.WEBHOOK_URL_REFUSED
    )
