"""The legal rules the services enforce: one table, a source per row (DOMAIN.md, "Legal instruments,
deadlines and durations").

A service that applies a rule names it by its id (``legal.rule("EIO_DECISION_EXTENSION")``) and cites the
row's source in what it tells the user (``legal.cite(...)``), so that the text of an error, an event or a
warning and the law it rests on come from here. Each row is exercised by at least one test that names the
row's id in its name or docstring (``tests/unit/test_legal_rules.py`` checks it); a row says, in one
sentence, what the software does, not a paraphrase of the law.

Pure: no I/O. Rows are grouped by instrument; an id is written in upper case with underscores and never
reused for another rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EIO = "Directive 2014/41/EU"
EPOC = "Reg. (EU) 2023/1543"
BUDAPEST = "Budapest Convention (CETS 185)"
SAP = "Second Additional Protocol (CETS 224)"
JIT_FD = "Council Framework Decision 2002/465/JHA"
JIT_CONVENTION = "2000 EU MLA Convention"

_ID = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")


@dataclass(frozen=True)
class Rule:
    #: Stable name, used in code and tests (``EPOC_SILENCE_IS_CONSENT``).
    id: str
    #: What the software does, in one sentence.
    says: str
    #: The legal text it rests on (instrument and article), or "GUESS: ..." / "UNVERIFIED: ..." where
    #: DOMAIN.md says so.
    source: str


def _table(*groups: Iterable[Rule]) -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for group in groups:
        for row in group:
            if not _ID.match(row.id):
                raise ValueError(f"legal rule id {row.id!r}: upper case, digits and underscores")
            if row.id in out:
                raise ValueError(f"legal rule {row.id} is in the table twice")
            if not row.says.strip() or not row.source.strip():
                raise ValueError(f"legal rule {row.id}: says what the software does and cites a source")
            out[row.id] = row
    return out


# -- the workspace: a Joint Investigation Team -------------------------------------------------------

_JIT: tuple[Rule, ...] = (
    Rule(
        "JIT_OTHER_USE_NEEDS_CONSENT",
        "evidence obtained in the JIT is used for other purposes only with the consent of the state where "
        "it arose, recorded by that state on the item",
        f"{JIT_FD} Art. 1(10); {JIT_CONVENTION} Art. 13(10)",
    ),
)

# -- European Investigation Order ---------------------------------------------------------------------

_EIO: tuple[Rule, ...] = (
    Rule(
        "EIO_DECISION_EXTENSION",
        "the recognition decision's 30 days may be extended once, by 30 days, with reasons",
        f"{EIO} Art. 12(5)",
    ),
)

# -- European Production and Preservation Orders ------------------------------------------------------

_EPOC: tuple[Rule, ...] = (
    Rule(
        "EPOC_SILENCE_IS_CONSENT",
        "an EPOC with notification proceeds once the enforcing state raised no ground within 10 days of "
        "receipt (or concluded its review without one): the issuer then records the provider's execution and "
        "delivery, and a ground raised after those 10 days is refused",
        f"{EPOC} Art. 10(2), 12(1)",
    ),
)

# -- preservation under every basis -------------------------------------------------------------------

_PRESERVATION: tuple[Rule, ...] = ()

# -- other instruments (MLA, Second Additional Protocol, voluntary) ------------------------------------

_OTHER: tuple[Rule, ...] = ()

# -- tasks: how practitioners use them (no legal text; GUESS rows say so) -----------------------------

_TASKS: tuple[Rule, ...] = ()

#: Every rule, by id.
RULES: dict[str, Rule] = _table(_JIT, _EIO, _EPOC, _PRESERVATION, _OTHER, _TASKS)


def rule(rule_id: str) -> Rule:
    """The row ``rule_id``; a KeyError names an id that is not in the table (a typo is a bug, not law)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"no legal rule {rule_id} in jitlib.legal.RULES") from None


def source(rule_id: str) -> str:
    return rule(rule_id).source


def cite(rule_id: str) -> str:
    """The row's source in parentheses, to end a sentence shown to a user: ``(Directive 2014/41/EU Art. 12(5))``."""
    return f"({source(rule_id)})"


__all__ = ["BUDAPEST", "EIO", "EPOC", "JIT_CONVENTION", "JIT_FD", "RULES", "SAP", "Rule", "cite", "rule", "source"]
