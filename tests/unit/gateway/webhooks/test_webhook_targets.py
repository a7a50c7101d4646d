"""Where a webhook may go: the image fetcher's address rules, https only outside tests."""

from __future__ import annotations

import pytest

from gateway.settings import Settings
from gateway.webhooks.targets import TargetRefused, check_target

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1:9/in", "loopback"),
        ("https://10.1.2.3/in", "private"),
        ("https://[::1]/in", "loopback"),
        ("https://169.254.169.254/latest", "metadata"),
        ("http://93.184.216.34/in", "scheme 'http:'"),
        ("ftp://93.184.216.34/in", "scheme 'ftp:'"),
        ("https://user:pw@93.184.216.34/in", "credentials"),
        ("https:///in", "no host"),
    ],
)
async def test_a_private_or_unsafe_target_is_refused(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=why):
        await check_target(url, Settings())


async def test_the_test_setting_allows_loopback_and_http_but_never_metadata() -> None:
    settings = Settings(allow_private_fetch=True)
    target = await check_target("http://127.0.0.1:8123/hooks?x=1", settings)
    assert (str(target.url), target.host) == ("http://127.0.0.1:8123/hooks?x=1", "127.0.0.1:8123")
    with pytest.raises(TargetRefused, match="metadata"):
        await check_target("http://169.254.169.254/", settings)


async def test_a_public_address_is_sent_to_itself_with_its_host_name() -> None:
    target = await check_target("https://93.184.216.34/in", Settings())
    assert target.url.host == "93.184.216.34" and target.sni == "93.184.216.34"
