"""Bad input, tried on every RPC of every service that `make run` starts, from the proto descriptors (so
a new RPC is covered without touching this file).

For each request field that carries a string, a value no service accepts (10 KB for an id, 200 KB for
text, in a repeated field too) must come back INVALID_ARGUMENT naming that field, with a short status
that does not echo what was sent, and must write nothing: not a row in any table of that service's
database, audit log and outbox included. Calls come from a prosecutor of a member jurisdiction, so the
only reason to refuse is the input."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor
from google.protobuf.message import Message
from sqlalchemy import MetaData, func, select

from jitlib.config import CommonSettings
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, field_violations, md, start_service

pytestmark = pytest.mark.integration

ID_SIZE = 10 * 1024
TEXT_SIZE = 200 * 1024
#: Filled in with valid values so that the field under test is the only thing wrong.
WORKSPACE = "jit-demo"
STATUS_MAX = 2048


def _service_modules() -> list[tuple[str, str]]:
    from jitdev.stack import SERVICES

    return [(s.name, s.module) for s in SERVICES]


def _descriptors(name: str) -> list[descriptor.ServiceDescriptor]:
    """Every gRPC service of the package ``jit.<name>.v1``, in each of its files (victims: its
    VictimService and its StatisticsService)."""
    package = importlib.import_module(f"jit.{name}.v1")
    files = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.endswith("_pb2"))
    return [
        svc
        for module in files
        for svc in importlib.import_module(f"jit.{name}.v1.{module}").DESCRIPTOR.services_by_name.values()
    ]


def _is_id(field: descriptor.FieldDescriptor) -> bool:
    return field.name == "id" or field.name.endswith("_id") or field.name.endswith("_ids")


def _cases() -> list[Any]:
    cases = []
    for name, _module in _service_modules():
        for svc in _descriptors(name):
            for method in svc.methods:
                for field in method.input_type.fields:
                    if field.type != descriptor.FieldDescriptor.TYPE_STRING:
                        continue
                    cases.append(
                        pytest.param(name, svc.full_name, method.name, field.name, id=f"{method.name}.{field.name}")
                    )
    return cases


def _valid_defaults(req: Message, method: descriptor.MethodDescriptor) -> None:
    """Plausible values for the fields every request shares, so only the field under test is wrong. A
    List's filters are all optional: they stay empty."""
    if method.name.startswith("List"):
        return
    for f in req.DESCRIPTOR.fields:
        if f.type != descriptor.FieldDescriptor.TYPE_STRING or f.is_repeated:
            continue
        if f.name == "workspace_id":
            setattr(req, f.name, WORKSPACE)
        elif _is_id(f):
            setattr(req, f.name, str(uuid.uuid4()))


def _request(method: descriptor.MethodDescriptor) -> Message:
    """An empty request of ``method`` with the shared fields filled in (``_valid_defaults``)."""
    cls = importlib.import_module(method.input_type.file.name.replace("/", ".").removesuffix(".proto") + "_pb2")
    req: Message = getattr(cls, method.input_type.name)()
    _valid_defaults(req, method)
    return req


def _bad_request(method: descriptor.MethodDescriptor, field_name: str) -> tuple[Message, str]:
    req = _request(method)
    field = method.input_type.fields_by_name[field_name]
    value = ("z" * ID_SIZE) if _is_id(field) else ("long text " * (TEXT_SIZE // 10))
    if field.is_repeated:
        getattr(req, field_name).append(value)
    else:
        setattr(req, field_name, value)
    return req, value


def _call(channel: grpc.Channel, service: str, method: descriptor.MethodDescriptor, req: Message, token: str) -> None:
    path = f"/{service}/{method.name}"
    ser, des = type(req).SerializeToString, lambda b: b
    meta = md(token)
    if method.client_streaming:
        call = channel.stream_unary(path, request_serializer=ser, response_deserializer=des)
        call(iter([req]), metadata=meta, timeout=20)
    elif method.server_streaming:
        stream = channel.unary_stream(path, request_serializer=ser, response_deserializer=des)
        for _ in stream(req, metadata=meta, timeout=5):
            break
    else:
        channel.unary_unary(path, request_serializer=ser, response_deserializer=des)(req, metadata=meta, timeout=20)


def _row_counts(svc: RunningService) -> dict[str, int]:
    engine = svc.rt.db.engine
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in meta.sorted_tables}


@pytest.fixture(scope="module")
def every_service(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningService]]:
    state: Path = tmp_path_factory.mktemp("bad-input")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    running: dict[str, RunningService] = {}
    try:
        for name, module_name in _service_modules():
            module = importlib.import_module(f"{module_name}.app")
            settings_cls = next(
                getattr(module, n) for n in dir(module) if n.endswith("Settings") and n != "ServiceSettings"
            )
            settings = settings_cls(
                listen="127.0.0.1:0",
                database_url=f"sqlite:///{state / (name + '.db')}",
                consumer_group=f"bad-{name}-{uuid.uuid4().hex[:6]}",
            )
            try:
                spec = module.spec(settings)
            except TypeError:
                spec = module.spec()
            running[name] = start_service(spec, settings, common)
            wait_for_workspace(running[name], demo_workspace_synced)
        yield running
    finally:
        for svc in running.values():
            svc.stop()


def _method(name: str, service: str, method_name: str) -> descriptor.MethodDescriptor:
    return next(d for d in _descriptors(name) if d.full_name == service).methods_by_name[method_name]


def _refused_by_name(svc: RunningService, call: Any, field_name: str) -> grpc.RpcError:
    """``call`` is refused INVALID_ARGUMENT naming ``field_name`` (or a part of it), with a short status,
    and writes nothing; the error, for more checks."""
    before = _row_counts(svc)
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), (err.details() or "")[:300])
    assert len(err.details() or "") < STATUS_MAX
    named = field_violations(err)
    assert any(f == field_name or f.startswith((f"{field_name}[", f"{field_name}.")) for f in named), named
    assert _row_counts(svc) == before
    return err


@pytest.mark.parametrize(("name", "service", "method_name", "field_name"), _cases())
def test_oversized_string_is_refused_by_name_and_writes_nothing(
    every_service: dict[str, RunningService], tokens: Any, name: str, service: str, method_name: str, field_name: str
) -> None:
    svc = every_service[name]
    method = _method(name, service, method_name)
    req, value = _bad_request(method, field_name)
    err = _refused_by_name(svc, lambda: _call(svc.channel, service, method, req, tokens("nl-prosecutor")), field_name)
    assert value[:64] not in (err.details() or "")


TIMESTAMP = "google.protobuf.Timestamp"


def _time_paths(message: descriptor.Descriptor, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """The path of every Timestamp a request holds, the first item of a repeated field standing for all."""
    for f in message.fields:
        if f.message_type is None:
            continue
        path = f"{prefix}{f.name}{'[0]' if f.is_repeated else ''}"
        if f.message_type.full_name == TIMESTAMP:
            yield path
        elif depth < 4:
            yield from _time_paths(f.message_type, path + ".", depth + 1)


def _time_cases() -> list[Any]:
    return [
        pytest.param(name, svc.full_name, method.name, path, id=f"{method.name}.{path}")
        for name, _module in _service_modules()
        for svc in _descriptors(name)
        for method in svc.methods
        for path in _time_paths(method.input_type)
    ]


def _held(req: Message, path: str) -> Message:
    """The Timestamp at ``path`` in ``req``, made (a repeated field's first item added) on the way."""
    held: Any = req
    for part in path.split("."):
        held = getattr(held, part.removesuffix("[0]")).add() if part.endswith("[0]") else getattr(held, part)
    return held  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "service", "method_name", "path"), _time_cases())
@pytest.mark.parametrize(
    ("seconds", "nanos"), [(2**62, 0), (1_900_000_000, -1)], ids=["year-past-9999", "negative-nanos"]
)
def test_a_time_no_timestamp_holds_is_refused_by_its_path_and_writes_nothing(
    every_service: dict[str, RunningService],
    tokens: Any,
    name: str,
    service: str,
    method_name: str,
    path: str,
    seconds: int,
    nanos: int,
) -> None:
    """protobuf refuses to read such a Timestamp as a time: the call must say which field, not fail inside."""
    svc = every_service[name]
    method = _method(name, service, method_name)
    req = _request(method)
    stamp = _held(req, path)
    stamp.seconds, stamp.nanos = seconds, nanos  # type: ignore[attr-defined]
    _refused_by_name(svc, lambda: _call(svc.channel, service, method, req, tokens("nl-prosecutor")), path)


def _enum_list_cases() -> list[Any]:
    return [
        pytest.param(name, svc.full_name, method.name, f.name, id=f"{method.name}.{f.name}")
        for name, _module in _service_modules()
        for svc in _descriptors(name)
        for method in svc.methods
        for f in method.input_type.fields
        if f.type == descriptor.FieldDescriptor.TYPE_ENUM and f.is_repeated
    ]


@pytest.mark.parametrize(("name", "service", "method_name", "field_name"), _enum_list_cases())
def test_a_list_of_thousands_of_unknown_values_is_refused_in_a_status_the_client_reads(
    every_service: dict[str, RunningService], tokens: Any, name: str, service: str, method_name: str, field_name: str
) -> None:
    """Each unknown value is a problem of its own; 20,000 of them (40 KB sent) are answered with the first
    few and a count, not a status too large for gRPC to deliver (RESOURCE_EXHAUSTED at the client)."""
    svc = every_service[name]
    method = _method(name, service, method_name)
    req = _request(method)
    getattr(req, field_name).extend([9_999] * 20_000)
    _refused_by_name(svc, lambda: _call(svc.channel, service, method, req, tokens("nl-prosecutor")), field_name)
