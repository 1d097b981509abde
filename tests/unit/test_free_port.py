"""``jitdev.procs.free_port``: the ports the test servers are started on. A port from the kernel's ephemeral
range could be taken by any outgoing connection between the pick and the server's bind (a federation node's
evidence service failed so in CI); these ports come from below it, are bindable, and never repeat."""

from __future__ import annotations

import os
import socket

import pytest

from jitdev import procs
from jitdev.procs import free_port


def test_ports_are_below_the_ephemeral_range_bindable_and_never_handed_out_twice() -> None:
    low, _ = procs._ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(procs._LOWEST <= p < max(low, procs._LOWEST + 1000) for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # nothing else holds it


def test_a_port_a_listener_holds_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "_HANDED", set())
    monkeypatch.setattr(procs.random, "randrange", lambda _span: 0)
    first = free_port()  # the walk's first candidate, with its start fixed
    procs._HANDED.clear()
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        second = free_port()
    assert second != first
    assert second >= procs._LOWEST


def test_the_range_falls_back_when_the_kernel_does_not_say(monkeypatch: pytest.MonkeyPatch) -> None:
    real = procs.Path
    monkeypatch.setattr(procs, "Path", lambda _p: real("/nonexistent/ip_local_port_range"))
    assert procs._ephemeral_range() == (32768, 60999)


def test_processes_picking_side_by_side_each_pick_from_their_own_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make test``'s workers (``JIT_PORT_SHARE``, set by tests/conftest.py for each): two could otherwise
    pick one port while neither of their servers has bound it yet."""
    low, _ = procs._ephemeral_range()
    span = max(low, procs._LOWEST + 1000) - procs._LOWEST
    picked = []
    for index in range(3):
        monkeypatch.setenv(procs.PORT_SHARE_ENV, f"{index}/3")
        monkeypatch.setattr(procs, "_HANDED", set())  # as if each were a process of its own
        ports = {free_port() for _ in range(100)}
        part = span // 3
        assert all(procs._LOWEST + index * part <= p < procs._LOWEST + (index + 1) * part for p in ports), index
        picked.append(ports)
    assert not picked[0] & picked[1] and not picked[1] & picked[2] and not picked[0] & picked[2]


@pytest.mark.parametrize("share", ["1", "a/2", "2/2", "-1/2", "0/0", "0/1000000"])
def test_a_share_that_names_no_part_is_refused(monkeypatch: pytest.MonkeyPatch, share: str) -> None:
    monkeypatch.setenv(procs.PORT_SHARE_ENV, share)
    with pytest.raises(ValueError, match=procs.PORT_SHARE_ENV):
        free_port()


def test_each_worker_of_the_suite_has_its_own_part() -> None:
    """tests/conftest.py gives each xdist worker its part (none in one process)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    expected = f"{int(worker[2:]) % int(count)}/{count}" if worker else None
    assert os.environ.get(procs.PORT_SHARE_ENV) == expected
