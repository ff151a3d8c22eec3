"""Compiled or pure: the engine's .py files decide, and a stale compiled module never runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import streams.engine
from streams.engine import _native

REPO = Path(streams.engine.__file__).resolve().parents[2]
PROBE = (
    "import json, warnings\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    import streams.engine._native as n, streams.engine.cases as c\n"
    "print(json.dumps({'compiled': n.COMPILED, 'file': c.__file__,\n"
    "                  'warnings': [str(w.message) for w in caught]}))\n"
)


def probe(root: Path, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != _native.PURE_ENV}
    environ.update(env, PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, env=environ, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    result: dict = json.loads(out.stdout)
    return result


def test_pure_python_on_request() -> None:
    result = probe(REPO, **{_native.PURE_ENV: "1"})
    assert not result["compiled"] and result["file"].endswith("cases.py")
    assert result["warnings"] == []


def test_compiled_modules_used_only_while_they_match_their_sources(tmp_path: Path) -> None:
    built = probe(REPO)
    has_build = any(_native.compiled_files(m) for m in _native.MODULES)
    assert built["compiled"] == has_build
    assert built["file"].endswith(".py") != has_build
    # A copy of the package whose cases.py was edited after the build: its sources run.
    shutil.copytree(REPO / "streams", tmp_path / "streams")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    cases = tmp_path / "streams" / "engine" / "cases.py"
    cases.write_text(cases.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = probe(tmp_path)
    assert not edited["compiled"] and edited["file"] == str(cases)
    if has_build:
        assert any("cases.py changed after it was compiled" in w for w in edited["warnings"])


def test_a_stale_rules_module_also_sends_the_engine_back_to_its_sources(tmp_path: Path) -> None:
    """The rules/ subpackage is compiled too; an edited rule module is detected like any."""
    assert {"rules.core", "rules.funds", "rules.trading"} <= set(_native.MODULES)
    shutil.copytree(REPO / "streams", tmp_path / "streams")
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    core = tmp_path / "streams" / "engine" / "rules" / "core.py"
    core.write_text(core.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    probe_rules = PROBE.replace("streams.engine.cases as c", "streams.engine.rules.core as c")
    out = subprocess.run(
        [sys.executable, "-c", probe_rules],
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if k != _native.PURE_ENV},
            "PYTHONPATH": str(tmp_path),
        },
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    edited = json.loads(out.stdout)
    assert not edited["compiled"] and edited["file"] == str(core)
    if any(_native.compiled_files(m) for m in _native.MODULES):
        assert any("rules/core.py changed after it was compiled" in w for w in edited["warnings"])
