"""Routing over several replicas: the hash ring, least-loaded choice, health transitions, and
the settings that configure them. No network."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from pydantic import ValidationError

from gateway.metrics import GatewayMetrics
from gateway.settings import Settings
from gateway.upstream.replicas import HashRing, ReplicaSet

URLS = [f"http://vllm-{i}.vllm:8000" for i in range(4)]
KEYS = [hashlib.sha256(f"image-{i}".encode()).digest() for i in range(4000)]


def _replicas(urls: list[str] = URLS, policy: str = "affinity") -> ReplicaSet:
    return ReplicaSet(urls, GatewayMetrics(), policy)  # type: ignore[arg-type]


def _gauge(replicas: ReplicaSet, url: str) -> float | None:
    value = replicas._metrics.registry.get_sample_value(
        "gateway_upstream_replica_up", {"replica": url}
    )
    return value


# --- the ring -----------------------------------------------------------------------------------


def test_same_key_always_gets_the_same_replica() -> None:
    ring, again = HashRing(URLS), HashRing(URLS)
    for key in KEYS[:200]:
        assert ring.owner(key) == ring.owner(key) == again.owner(key)


def test_keys_spread_roughly_evenly() -> None:
    shares = Counter(HashRing(URLS).owner(key) for key in KEYS)
    assert set(shares) == set(range(len(URLS)))
    for count in shares.values():  # 1000 each if perfectly even
        assert 700 <= count <= 1300, shares


def test_removing_a_replica_moves_only_its_keys() -> None:
    full, without_last = HashRing(URLS), HashRing(URLS[:3])
    moved = 0
    for key in KEYS:
        before = full.owner(key)
        after = without_last.owner(key)
        if before == 3:
            moved += 1
        else:
            assert after == before, "a key of a remaining replica moved"
    assert 0.15 < moved / len(KEYS) < 0.35  # about 1/4


def test_walk_visits_every_replica_once_owner_first() -> None:
    ring = HashRing(URLS)
    for key in KEYS[:50]:
        order = list(ring.walk(key))
        assert sorted(order) == list(range(len(URLS)))
        assert order[0] == ring.owner(key)


# --- picking --------------------------------------------------------------------------------------


def test_pick_by_image_follows_the_ring() -> None:
    replicas = _replicas()
    for key in KEYS[:100]:
        assert replicas.pick(key) is replicas.replicas[replicas.ring.owner(key)]


def test_down_replica_is_skipped_and_its_keys_come_back() -> None:
    replicas = _replicas()
    victim = replicas.replicas[0]
    owned = [key for key in KEYS[:400] if replicas.pick(key) is victim]
    others = {key: replicas.pick(key) for key in KEYS[:400] if key not in owned}
    assert owned
    replicas.mark_down(victim, "connection refused")
    for key in owned:
        chosen = replicas.pick(key)
        assert chosen is not victim
        assert chosen is replicas.replicas[list(replicas.ring.walk(key))[1]]
    for key, replica in others.items():  # nobody else's keys moved
        assert replicas.pick(key) is replica
    replicas.record_health(victim, True, "HTTP 200", threshold=3)
    assert all(replicas.pick(key) is victim for key in owned)


def test_all_down_still_names_the_preferred_replica() -> None:
    replicas = _replicas()
    for replica in replicas.replicas:
        replicas.mark_down(replica, "gone")
    assert not replicas.any_up
    key = KEYS[0]
    assert replicas.pick(key) is replicas.replicas[replicas.ring.owner(key)]
    assert replicas.pick(None) in replicas.replicas


def test_text_only_goes_to_the_least_loaded_up_replica() -> None:
    replicas = _replicas()
    loads = [5, 2, 7, 1]
    for replica, load in zip(replicas.replicas, loads, strict=True):
        replica.in_flight = load
    for _ in range(8):
        assert replicas.pick(None) is replicas.replicas[3]
    replicas.mark_down(replicas.replicas[3], "gone")
    for _ in range(8):
        assert replicas.pick(None) is replicas.replicas[1]


def test_least_loaded_ties_rotate() -> None:
    replicas = _replicas()
    chosen = Counter(replicas.pick(None).url for _ in range(40))
    assert set(chosen) == set(URLS)


def test_round_robin_ignores_the_image_and_skips_down_replicas() -> None:
    replicas = _replicas(policy="round_robin")
    key = KEYS[0]
    assert {replicas.pick(key).url for _ in range(8)} == set(URLS)
    replicas.mark_down(replicas.replicas[2], "gone")
    assert URLS[2] not in {replicas.pick(key).url for _ in range(8)}


def test_single_replica_is_always_chosen() -> None:
    replicas = _replicas(URLS[:1])
    replicas.mark_down(replicas.replicas[0], "gone")
    assert replicas.pick(KEYS[0]) is replicas.pick(None) is replicas.replicas[0]


# --- health ---------------------------------------------------------------------------------------


def test_threshold_failures_take_a_replica_out_and_one_success_brings_it_back() -> None:
    replicas = _replicas()
    replica = replicas.replicas[1]
    assert _gauge(replicas, replica.url) == 1
    replicas.record_health(replica, False, "HTTP 503", threshold=3)
    replicas.record_health(replica, False, "ReadTimeout", threshold=3)
    assert replica.up and replica.failures == 2
    replicas.record_health(replica, True, "HTTP 200", threshold=3)  # resets the count
    replicas.record_health(replica, False, "HTTP 503", threshold=3)
    replicas.record_health(replica, False, "HTTP 503", threshold=3)
    assert replica.up
    replicas.record_health(replica, False, "HTTP 503", threshold=3)
    assert not replica.up and replica.detail == "HTTP 503"
    assert _gauge(replicas, replica.url) == 0
    replicas.record_health(replica, True, "HTTP 200", threshold=3)
    assert replica.up and replica.failures == 0
    assert _gauge(replicas, replica.url) == 1


def test_mark_down_is_immediate() -> None:
    replicas = _replicas()
    replicas.mark_down(replicas.replicas[0], "connection failed (ClientConnectorError)")
    described = replicas.describe()[0]
    assert described["up"] is False and "ClientConnectorError" in described["detail"]
    assert _gauge(replicas, URLS[0]) == 0


def test_an_empty_replica_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        _replicas([])


# --- settings -------------------------------------------------------------------------------------


def test_upstream_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_UPSTREAM_URLS", " http://a:8000/ , http://b:8000")
    assert Settings().replica_urls == ["http://a:8000", "http://b:8000"]
    monkeypatch.setenv("GATEWAY_UPSTREAM_URLS", '["http://a:8000", "http://c:8000/"]')
    assert Settings().replica_urls == ["http://a:8000", "http://c:8000"]


def test_without_upstream_urls_the_single_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_UPSTREAM_URLS", raising=False)
    monkeypatch.setenv("GATEWAY_UPSTREAM_URL", "http://solo:8000/")
    settings = Settings()
    assert settings.upstream_urls == [] and settings.replica_urls == ["http://solo:8000"]
    assert settings.routing == "affinity"


@pytest.mark.parametrize(
    "urls", [["ftp://a:8000"], ["http://a:8000", "http://a:8000/"], ["vllm-0:8000"]]
)
def test_bad_upstream_urls_are_refused(urls: list[str]) -> None:
    with pytest.raises(ValidationError, match="upstream_urls"):
        Settings(upstream_urls=urls)


def test_routing_and_health_settings_are_checked() -> None:
    settings = Settings(routing="round_robin", health_interval_s=1, health_failure_threshold=2)
    assert (settings.routing, settings.health_interval_s) == ("round_robin", 1)
    with pytest.raises(ValidationError, match="routing"):
        Settings(routing="random")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="health_failure_threshold"):
        Settings(health_failure_threshold=0)


# --- the health poll ------------------------------------------------------------------------------


class _FakeUpstream:
    """Just what ``check_all`` uses: ``replicas`` and ``healthy(replica, timeout)``."""

    def __init__(self, replicas: ReplicaSet, answers: dict[str, bool]) -> None:
        self.replicas = replicas
        self.answers = answers

    async def healthy(self, replica: object, timeout: float) -> tuple[bool, str]:
        ok = self.answers[replica.url]  # type: ignore[attr-defined]
        return ok, "HTTP 200" if ok else "ClientConnectorError"


@pytest.mark.anyio
async def test_health_rounds_take_out_and_bring_back() -> None:
    from gateway.upstream.health import check_all

    replicas = _replicas(URLS[:2])
    fake = _FakeUpstream(replicas, {URLS[0]: True, URLS[1]: False})
    assert await check_all(fake, 1.0, 2) == [True, False]  # type: ignore[arg-type]
    assert [r.up for r in replicas.replicas] == [True, True]
    await check_all(fake, 1.0, 2)  # type: ignore[arg-type]
    assert [r.up for r in replicas.replicas] == [True, False]
    fake.answers[URLS[1]] = True
    await check_all(fake, 1.0, 2)  # type: ignore[arg-type]
    assert [r.up for r in replicas.replicas] == [True, True]
