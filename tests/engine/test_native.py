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
