"""``jitdev.procs.free_port``: the ports the test servers are started on. A port from the kernel's ephemeral
range could be taken by any outgoing connection between the pick and the server's bind (a federation node's
evidence service failed so in CI); these ports come from below it, are bindable, and never repeat."""

from __future__ import annotations

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
