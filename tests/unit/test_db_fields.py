"""jitlib.db's shared store pieces: ``RecordFields`` (a record's same-named columns, both ways, and the
record made from them without its ``__init__``: ``jitlib.fields.restored``),
``RecordTable``'s reads, pages and indexes, and ``PartyIndex.bound``, on an in-memory SQLite table."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from jitlib.actors import Actor
from jitlib.db import TS, RecordColumns, RecordFields, RecordTable, Stored, new_metadata
from jitlib.fields import restored
from jitlib.policy import VisibilityScope
from jitlib.visibility import BoundFilter, PartyIndex


class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@dataclass(frozen=True)
class Thing:
    id: str
    workspace_id: str
    origin_jurisdiction: str
    restricted: bool
    shared_with: tuple[str, ...]
    version: int
    created_by: Actor
    created_at: datetime
    updated_by: Actor
    updated_at: datetime
    replicated_at: datetime | None
    name: str
    state: Colour
    tags: tuple[str, ...]
    due_at: datetime | None

    @property
    def parties(self) -> frozenset[str]:
        return frozenset({self.origin_jurisdiction, *self.shared_with})


class Base(DeclarativeBase):
    metadata = new_metadata()


class ThingRow(RecordColumns, Base):
    __tablename__ = "things"

    name: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(10))
    tags: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


PARTIES = PartyIndex.declare(ThingRow, "thing_parties", key="thing_id", index="ix_thing_parties_jurisdiction")
FIELDS = RecordFields(same=("name",), times=("due_at",), enums={"state": Colour}, lists=("tags",))
THINGS = RecordTable(ThingRow, PARTIES, FIELDS.write, lambda _session, row: FIELDS.load(Thing, row))

NL = Actor("u-nl", "nl.investigator", "NL")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def thing(i: int, **kw: object) -> Thing:
    values: dict[str, object] = {
        "id": f"t{i:02d}",
        "workspace_id": "ws-1",
        "origin_jurisdiction": "NL",
        "restricted": False,
        "shared_with": (),
        "version": 1,
        "created_by": NL,
        "created_at": T0,
        "updated_by": NL,
        "updated_at": T0,
        "replicated_at": None,
        "name": f"thing {i}",
        "state": Colour.RED,
        "tags": ("a", "b"),
        "due_at": None,
    }
    values.update(kw)
    return Thing(**values)  # type: ignore[arg-type]


def session() -> Session:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return Session(engine)


def test_fields_write_then_read_gives_the_record_back() -> None:
    t = thing(1, state=Colour.BLUE, tags=("x", "y", "z"), due_at=T0 + timedelta(days=1))
    written = FIELDS.write(t)
    assert {k: written[k] for k in ("name", "due_at", "state", "tags")} == {
        "name": "thing 1",
        "due_at": t.due_at,
        "state": "BLUE",
        "tags": "x,y,z",
    }
    assert written["shared_with"] == "" and written["version"] == 1  # the columns every record has
    with session() as s:
        THINGS.insert(s, t, request_id="r1", request_digest="d1")
        back = THINGS.get(s, t.id)
    assert back == t
    assert back is not None and back.due_at is not None and back.due_at.utcoffset() == timedelta(0)


def test_fields_keep_an_actor_in_the_three_columns_of_its_role() -> None:
    from types import SimpleNamespace

    from jitlib.db import Fields

    fields = Fields(same=("note",), actors=("told_by",))
    written = fields.write(SimpleNamespace(note="n", told_by=NL))
    assert written == {
        "note": "n",
        "told_by_id": "u-nl",
        "told_by_name": "nl.investigator",
        "told_by_jurisdiction": "NL",
    }
    assert fields.read(SimpleNamespace(**written)) == {"note": "n", "told_by": NL}


def test_fields_read_an_empty_list_and_a_null_time_as_empty_and_none() -> None:
    with session() as s:
        THINGS.insert(s, thing(1, tags=()), request_id="r1", request_digest="d1")
        back = THINGS.get(s, "t01")
    assert back is not None and back.tags == () and back.due_at is None


def test_fields_read_back_what_every_record_has_shared_replicated_and_changed_by_another() -> None:
    de = Actor("u-de", "de.prosecutor", "DE")
    later = T0 + timedelta(hours=2)
    t = thing(2, shared_with=("DE", "FR"), updated_by=de, updated_at=later, replicated_at=T0, version=4)
    with session() as s:
        THINGS.insert(s, t, request_id="r2", request_digest="d2")
        back = THINGS.get(s, t.id)
    assert back == t
    # The maker's jurisdiction is the record's origin (it is not kept twice); the last changer's its own.
    assert back is not None and back.created_by == NL and back.updated_by == de
    assert back.replicated_at is not None and back.replicated_at.utcoffset() == timedelta(0)


def test_fields_refuse_a_value_that_is_not_their_enum_s_and_a_name_that_is_not_a_field_s() -> None:
    from types import SimpleNamespace

    from jitlib.db import Fields

    fields = Fields(same=("note",), enums={"state": Colour})
    assert fields.read(SimpleNamespace(note="n", state="RED")) == {"note": "n", "state": Colour.RED}
    with pytest.raises(ValueError, match="'PURPLE' is not a valid Colour"):
        fields.read(SimpleNamespace(note="n", state="PURPLE"))
    # The reader is code built from the names: a name that is not an identifier is refused when declared.
    for bad in ("note); import os; (x", "not-a-name", "class"):
        with pytest.raises(ValueError, match="not a field name"):
            Fields(same=(bad,))


def test_fields_load_makes_the_record_its_init_makes_from_the_same_values() -> None:
    from types import SimpleNamespace

    t = thing(2, state=Colour.BLUE, tags=("x",), due_at=T0, shared_with=("DE", "IE"))
    row = SimpleNamespace(**FIELDS.write(t), id=t.id, created_by_id="u-nl", created_by_name="nl.investigator")
    row.created_at = T0
    loaded = FIELDS.load(Thing, row)
    assert type(loaded) is Thing and loaded == Thing(**FIELDS.read(row)) == t
    assert vars(loaded) == vars(t)  # the same attributes, nothing more
    row.state = "GREEN"  # a value the enum does not have: the enum's own error, as before
    with pytest.raises(ValueError, match="GREEN"):
        FIELDS.load(Thing, row)


@dataclass(frozen=True)
class Defaults:
    a: int
    b: tuple[str, ...] = ()
    c: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a")


def test_restored_takes_defaults_and_refuses_what_the_init_refuses() -> None:
    first, second = restored(Defaults, {"a": 1}), restored(Defaults, {"a": 1})
    assert first == Defaults(1) and first.c is not second.c  # a factory's default made for each record
    assert restored(Defaults, {"a": 2, "b": ("x",), "c": [3]}) == Defaults(2, ("x",), [3])
    with pytest.raises(TypeError):
        restored(Defaults, {"a": 1, "d": 4})  # not a field
    with pytest.raises(TypeError):
        restored(Defaults, {"b": ()})  # a field without a default missing
    with pytest.raises(dataclasses.FrozenInstanceError):
        restored(Defaults, {"a": 1}).a = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="a"):
        restored(Checked, {"a": -1})  # a class with a __post_init__ is made by its __init__


def test_record_table_finds_by_request_with_its_digest_and_misses_cleanly() -> None:
    with session() as s:
        THINGS.insert(s, thing(1), request_id="r1", request_digest="d1")
        assert THINGS.find_by_request(s, NL.user_id, "r1") == Stored(thing(1), "d1")
        assert THINGS.find_by_request(s, "someone-else", "r1") is None
        assert THINGS.get(s, "t99") is None


def test_record_table_pages_in_id_order_after_the_cursor() -> None:
    with session() as s:
        for i in (3, 1, 2, 5, 4):
            THINGS.insert(s, thing(i), request_id=f"r{i}", request_digest="")
        first = THINGS.page(s, BoundFilter([], [], {}), after_id="", limit=2)
        rest = THINGS.page(s, BoundFilter([], [], {}), after_id=first[-1].id, limit=10)
    assert [r.id for r in first] == ["t01", "t02"]
    assert [r.id for r in rest] == ["t03", "t04", "t05"]


def test_a_bound_filter_adds_only_the_equalities_asked_for() -> None:
    scope = VisibilityScope(workspaces=frozenset({"ws-1"}), jurisdiction="NL", may_read_content=True)
    with session() as s:
        THINGS.insert(s, thing(1, name="alpha"), request_id="r1", request_digest="")
        THINGS.insert(s, thing(2, name="beta", origin_jurisdiction="DE"), request_id="r2", request_digest="")
        everything = PARTIES.bound(scope, {"ws-1"}, name="", origin_jurisdiction="")
        only_de = PARTIES.bound(scope, {"ws-1"}, name="", origin_jurisdiction="DE")
        assert [r.id for r in THINGS.page(s, everything, after_id="", limit=10)] == ["t01", "t02"]
        assert [r.id for r in THINGS.page(s, only_de, after_id="", limit=10)] == ["t02"]


def test_a_bound_filter_keeps_the_workspace_the_read_rule_and_the_states() -> None:
    scope = VisibilityScope(workspaces=frozenset({"ws-1", "ws-2"}), jurisdiction="DE", may_read_content=True)
    with session() as s:
        THINGS.insert(s, thing(1), request_id="r1", request_digest="")
        THINGS.insert(s, thing(2, restricted=True), request_id="r2", request_digest="")
        THINGS.insert(s, thing(3, restricted=True, shared_with=("DE",)), request_id="r3", request_digest="")
        THINGS.insert(s, thing(4, workspace_id="ws-2"), request_id="r4", request_digest="")
        THINGS.insert(s, thing(5, state=Colour.BLUE), request_id="r5", request_digest="")

        def ids(states: frozenset[Colour] = frozenset()) -> list[str]:
            return [r.id for r in THINGS.page(s, PARTIES.bound(scope, {"ws-1"}, states), after_id="", limit=10)]

        assert ids() == ["t01", "t03", "t05"]
        assert ids(frozenset({Colour.BLUE})) == ["t05"]


def test_a_bound_filter_keeps_the_rows_the_policy_reads_for_every_scope_filter_and_cursor() -> None:
    """``PartyIndex.bound`` (values bound when the statement runs, one statement per shape) against the
    READ rule evaluated on each record in Python (``policy.readable`` on ``RecordTerms``, as ``decide`` does)
    and the filters applied by hand, over callers, workspaces, states, an equality, cursors and limits: the
    same rows in the same order."""
    from itertools import product

    from jitlib.policy import RecordAccess, RecordTerms, readable

    things = [
        thing(
            i,
            workspace_id=("ws-1", "ws-2", "ws-3")[i % 3],
            restricted=i % 2 == 0,
            shared_with=(("DE",), ("IE",), ())[i % 3],
            origin_jurisdiction=("NL", "DE")[i % 4 == 0],
            state=(Colour.RED, Colour.BLUE)[i % 5 == 0],
            name=("alpha", "beta")[i % 2],
        )
        for i in range(1, 13)
    ]
    with session() as s:
        for t in things:
            THINGS.insert(s, t, request_id=t.id, request_digest="")
        scopes = [
            VisibilityScope(frozenset(ws), j, may)
            for ws, j, may in product([{"ws-1"}, {"ws-1", "ws-2"}, set()], ["NL", "DE", "IE"], [True, False])
        ]
        for scope, ws, states, name, (after, limit) in product(
            scopes,
            [None, {"ws-1"}, {"ws-1", "ws-2", "ws-3"}],
            [frozenset(), frozenset({Colour.BLUE}), frozenset(Colour)],
            ["", "beta"],
            [("", 20), ("", 2), ("t04", 3)],
        ):
            want = [
                t.id
                for t in things
                if readable(scope, RecordTerms(RecordAccess.of(t)))
                and (ws is None or t.workspace_id in ws)
                and (not states or t.state in states)
                and (not name or t.name == name)
                and t.id > after
            ][:limit]
            bound = PARTIES.bound(scope, ws, states, name=name)
            assert [r.id for r in THINGS.page(s, bound, after_id=after, limit=limit)] == want, (scope, ws, states)


def test_a_bound_filter_s_statement_is_built_once_per_shape_and_its_values_bound_each_call() -> None:
    from sqlalchemy import bindparam

    scope = VisibilityScope(workspaces=frozenset({"ws-1"}), jurisdiction="NL", may_read_content=True)
    builds: list[str] = []

    def named(value: str) -> object:
        flt = PARTIES.bound(scope, {"ws-1"})
        flt.add("due", lambda: (builds.append("due"), ThingRow.name == bindparam("the_name"))[1], the_name=value)
        return flt

    with session() as s:
        for i, name in ((1, "alpha"), (2, "beta"), (3, "alpha")):
            THINGS.insert(s, thing(i, name=name), request_id=f"r{i}", request_digest="")
        alphas = [r.id for r in THINGS.page(s, named("alpha"), after_id="", limit=10)]  # type: ignore[arg-type]
        betas = [r.id for r in THINGS.page(s, named("beta"), after_id="", limit=10)]  # type: ignore[arg-type]
        again = [r.id for r in THINGS.page(s, named("alpha"), after_id="t01", limit=1)]  # type: ignore[arg-type]
        more = [r.id for r in THINGS.page(s, named("alpha"), after_id="t00", limit=5)]  # type: ignore[arg-type]
    assert (alphas, betas, again, more) == (["t01", "t03"], ["t02"], ["t03"], ["t01", "t03"])
    assert builds == ["due", "due"]  # once without a cursor, once with one
