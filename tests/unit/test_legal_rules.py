"""The table of legal rules (``jitlib.legal``): every row is exercised by a test that names it, and every
rule the code names is in the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jitlib import legal

ROOT = Path(__file__).resolve().parents[2]
#: ``legal.rule("X")``, ``legal.source("X")``, ``legal.cite("X")`` in the code.
_NAMED = re.compile(r"""legal\.(?:rule|source|cite)\(\s*["']([A-Z0-9_]+)["']""")
#: A test function's name and docstring, roughly: enough to find an id written in either.
_TEST = re.compile(r"def (test_\w+)\([^)]*\)[^:]*:\s*(\"\"\"(?:.|\n)*?\"\"\")?")


def _texts(folder: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in (ROOT / folder).rglob("*.py")}


def _tests_naming() -> dict[str, list[str]]:
    """Rule id -> the tests whose name or docstring names it (the id, or its lower-case form in a name)."""
    out: dict[str, list[str]] = {rid: [] for rid in legal.RULES}
    for path, text in _texts("tests").items():
        if path.name == Path(__file__).name:
            continue
        for m in _TEST.finditer(text):
            name, doc = m.group(1), m.group(2) or ""
            for rid in legal.RULES:
                if rid in doc or rid.lower() in name:
                    out[rid].append(f"{path.relative_to(ROOT)}::{name}")
    return out


def test_every_rule_is_exercised_by_a_test_that_names_it() -> None:
    missing = sorted(rid for rid, tests in _tests_naming().items() if not tests)
    assert not missing, f"no test names these rules in its name or docstring: {missing}"


def test_every_rule_the_code_names_is_in_the_table() -> None:
    named = {
        (str(path.relative_to(ROOT)), rid)
        for folder in ("libs", "services")
        for path, text in _texts(folder).items()
        for rid in _NAMED.findall(text)
    }
    unknown = sorted(f"{path}: {rid}" for path, rid in named if rid not in legal.RULES)
    assert not unknown, f"rules named in code but not in jitlib.legal.RULES: {unknown}"


def test_each_row_cites_a_source_and_says_what_the_software_does() -> None:
    for row in legal.RULES.values():
        assert re.search(r"Art\.|GUESS|UNVERIFIED|guideline|CETS", row.source), row
        assert row.says[0].islower() or row.says[0].isdigit() or row.says.split()[0].isupper(), row
        assert len(row.says) <= 400, row


def test_a_rule_the_table_does_not_hold_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="NO_SUCH_RULE"):
        legal.rule("NO_SUCH_RULE")


def test_a_malformed_or_repeated_row_is_refused_when_the_table_is_built() -> None:
    row = legal.Rule("SOME_RULE", "does a thing", "Art. 1")
    with pytest.raises(ValueError, match="twice"):
        legal._table((row, row))
    with pytest.raises(ValueError, match="upper case"):
        legal._table((legal.Rule("lower", "does a thing", "Art. 1"),))
    with pytest.raises(ValueError, match="cites a source"):
        legal._table((legal.Rule("NO_SOURCE", "does a thing", " "),))


def test_cite_ends_a_sentence_with_the_source() -> None:
    assert legal.cite("EIO_DECISION_EXTENSION") == "(Directive 2014/41/EU Art. 12(5))"
