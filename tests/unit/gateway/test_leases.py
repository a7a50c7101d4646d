"""One lease type for both counted slots: a key's concurrency and a replica's in-flight count.
Whatever ends a request, and however many places try to give the slot back, it is given back
exactly once."""

from __future__ import annotations

import time

import pytest

from gateway.leases import NO_LEASE, Lease, Vacancies
from gateway.metrics import GatewayMetrics
from gateway.record import RequestRecord
from gateway.upstream.replicas import ReplicaSet


def test_a_lease_gives_back_once() -> None:
    returned: list[int] = []
    lease = Lease(lambda: returned.append(1))
    assert lease.held
    lease.release()
    lease.release()
    assert returned == [1] and not lease.held
    NO_LEASE.release()  # holding nothing is fine


def test_replica_in_flight_follows_its_leases() -> None:
    replicas = ReplicaSet(["http://a:1", "http://b:1"], GatewayMetrics())
    first, second = replicas.replicas
    leases = [first.enter(), first.enter(), second.enter()]
    assert (first.in_flight, second.in_flight) == (2, 1)
    assert replicas.pick(None) is second  # least loaded
    for lease in leases:
        lease.release()
        lease.release()
    assert (first.in_flight, second.in_flight) == (0, 0)


def test_the_record_releases_what_it_holds_once() -> None:
    replicas = ReplicaSet(["http://a:1"], GatewayMetrics())
    replica = replicas.replicas[0]
    record = RequestRecord("r1", 0.0)
    lease = replica.enter()
    record.hold(lease)
    lease.release()  # the relay finished first
    record.release_all()  # then the observer: nothing more is given back
    record.release_all()
    assert replica.in_flight == 0


@pytest.mark.anyio
async def test_vacancies_wake_only_waiters_of_that_name() -> None:
    vacancies = Vacancies()
    alice, bob = vacancies.watch("alice"), vacancies.watch("bob")
    assert vacancies.watch("alice") is alice  # one event per name while someone waits
    vacancies.vacated("alice")
    assert alice.is_set() and not bob.is_set()
    assert vacancies.watch("alice") is not alice  # the next give-back needs a fresh event
    vacancies.vacated("nobody")  # nobody waits: nothing to do
    started = time.monotonic()
    await Vacancies.wait(bob, timeout=0.05)  # never vacated: waits out its timeout
    assert time.monotonic() - started >= 0.04
    await Vacancies.wait(alice, timeout=10)  # already set: returns at once
