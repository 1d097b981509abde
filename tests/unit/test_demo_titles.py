"""The demo case and the README name the victim by her pseudonym only: a lint of every title and
description they write (``jitdev.demo.victim_details``), which the demo also runs on the records it made
(VICTIM_BY_PSEUDONYM, issue 16: "the README's demo case uses a victim pseudonym instead of words about the
victim in titles")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from jitdev import demo

ROOT = Path(__file__).resolve().parents[2]
TEXT_OPTIONS = {"--title", "-t", "--description", "-d"}


def _literal(node: ast.expr) -> str | None:
    """A string argument's literal text; an f-string's fixed parts (what it formats in is a pseudonym or an
    id the demo holds)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(_literal(v) or "" for v in node.values if isinstance(v, ast.Constant))
    return None


def demo_texts() -> list[str]:
    """Every title and description the demo script passes to ``jit``."""
    tree = ast.parse((ROOT / "libs" / "jitdev" / "demo.py").read_text(encoding="utf-8"))
    texts = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        args = [_literal(a) for a in call.args]
        texts += [args[i + 1] or "" for i, a in enumerate(args[:-1]) if a in TEXT_OPTIONS]
    return texts


def readme_texts() -> list[str]:
    """Every ``--title``/``--description`` the README's commands give."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r'(?:--title|--description|-t|-d) "([^"]*)"', text)


def test_the_demo_and_the_readme_give_titles_and_descriptions() -> None:
    assert len(demo_texts()) >= 4 and len(readme_texts()) >= 1


@pytest.mark.parametrize("text", demo_texts() + readme_texts())
def test_no_title_or_description_of_the_demo_or_readme_speaks_about_the_victim(text: str) -> None:
    """VICTIM_BY_PSEUDONYM: the pseudonym stands where words about the victim were."""
    assert demo.victim_details(text) == []


@pytest.mark.parametrize(
    "said",
    [
        "Identify the holder of @rev3ng3_pics (posts the victim's images)",
        "Images of the victim posted without consent",
        "She is 17 and lives in Utrecht",
        "Nude images of DEMO ONLY victim",
    ],
)
def test_the_lint_finds_words_about_a_victim_or_her_identity(said: str) -> None:
    assert demo.victim_details(said)


def test_the_lint_leaves_pseudonyms_and_case_words_alone() -> None:
    assert demo.victim_details("Identify the holder of @rev3ng3_pics (posts images of V-NL-0001)") == []
    assert demo.victim_details("Check whether the login IP addresses come from DE") == []
