"""The rules are named functions: each is findable by name and quotes its rule-book line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from streams.engine import rules
from streams.engine.config import RULES

# Docstrings are read from the sources: mypyc-compiled functions do not keep theirs.
RULES_DIR = Path(rules.__file__).parent
DOMAINS = ("core", "approval", "funds", "trading", "inspections", "tasks")
# RULE_ID [Chinese name] — "<level | when | once per>" (rules.md §3.x)
RULE_LINE = re.compile(r'^([A-Z_]+)[^—]* — "(.+?)"\s+\(rules\.md §(3\.\d)\)', re.DOTALL)


def docstrings(module: str) -> dict[str, str]:
    """The docstring of each module-level function of ``rules/<module>.py`` ("" for none)."""
    tree = ast.parse((RULES_DIR / f"{module}.py").read_text(encoding="utf-8"))
    return {
        node.name: ast.get_docstring(node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def rule_functions() -> dict[str, tuple[str, str]]:
    """rule id -> (the function whose docstring opens with its rule-book line, that line)."""
    found: dict[str, tuple[str, str]] = {}
    for module in DOMAINS:
        for name, doc in docstrings(module).items():
            match = RULE_LINE.match(doc)
            if match:
                assert match.group(1) not in found, f"two functions claim {match.group(1)}"
                found[match.group(1)] = (f"{module}.{name}", " ".join(match.group(2).split()))
    return found


def test_every_rule_has_one_function_quoting_its_rule_book_line() -> None:
    assert sorted(rule_functions()) == sorted(RULES)


def rule_book_rows() -> str | None:
    """The rule book's table rows without their first cell, whitespace-normalised."""
    for parent in Path(__file__).resolve().parents:
        book = parent / "shared" / "spec" / "rules.md"
        if book.is_file():
            rows = [
                " | ".join(cell.strip() for cell in row.strip().strip("|").split("|")[1:])
                for row in book.read_text(encoding="utf-8").splitlines()
                if row.startswith("| `")
            ]
            return "\n".join(" ".join(row.split()) for row in rows)
    return None


def test_the_quoted_lines_are_the_rule_books() -> None:
    rows = rule_book_rows()
    assert rows is not None, "the rule book (../shared/spec/rules.md) is beside every checkout"
    for rule, (function, line) in rule_functions().items():
        assert line in rows, f"{function}: not the rule book's line of {rule}"


def test_every_registered_function_has_a_docstring() -> None:
    registered = [
        function
        for pack in rules.PACKS.values()
        for table in (pack.on_event, pack.facts)
        for functions in table.values()
        for function in functions
    ] + [cross.judge for cross in rules.CROSS_RULES.values()]
    for function in registered:
        module, name = function.__module__.rsplit(".", 1)[1], function.__name__
        assert docstrings(module)[name], f"{module}.{name}"


def test_both_halves_of_a_cross_case_rule_live_in_one_module() -> None:
    """The judgement's module also emits the facts of its key kind."""
    for kind, cross in rules.CROSS_RULES.items():
        source = RULES_DIR / (cross.judge.__module__.rsplit(".", 1)[1] + ".py")
        assert f'"{kind}|' in source.read_text(encoding="utf-8"), kind
