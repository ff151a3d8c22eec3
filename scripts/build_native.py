"""Compile the engine's hot modules with mypyc, in place (``make native``; ``make venv`` runs it).

The ``.py`` files stay the source of truth: the extension modules are built
next to them, and ``streams/engine/_native.json`` records the hash of every
source compiled, so that ``streams.engine._native`` imports the sources
instead whenever one changed after the build. Without mypyc or a C compiler
the build is skipped with a warning and everything runs as pure Python
(``--strict``: fail instead).

Usage: python scripts/build_native.py [--strict] [--clean]
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
BUILD_TEMP = REPO / "build" / "native"
GROUP = "streams.engine.native"  # the shared library: streams/engine/native__mypyc.*.so


def _load_native() -> ModuleType:
    """streams/engine/_native.py by path (importing streams.engine would import the engine)."""
    spec = importlib.util.spec_from_file_location(
        "_supervision_native", REPO / "streams" / "engine" / "_native.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean(native: ModuleType) -> None:
    engine_dir: Path = native.ENGINE_DIR
    for module in native.MODULES:
        for path in native.compiled_files(module):
            path.unlink()
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        (engine_dir / f"native__mypyc{suffix}").unlink(missing_ok=True)
    native.MANIFEST.unlink(missing_ok=True)


def build(native: ModuleType) -> None:
    from mypyc.build import mypycify
    from setuptools import Distribution

    sources = [f"streams/engine/{native.source_name(module)}" for module in native.MODULES]
    digests = {module: native.source_digest(module) for module in native.MODULES}
    os.chdir(REPO)
    extensions = mypycify(sources, opt_level="3", group_name=GROUP)
    # A bare Distribution: setup() would also parse pyproject.toml, which needs a newer setuptools.
    dist = Distribution(
        {
            "name": "supervision-streams-native",
            "ext_modules": extensions,
            "script_args": ["build_ext", "--inplace", "--build-temp", str(BUILD_TEMP)],
        }
    )
    dist.parse_command_line()
    dist.run_commands()
    native.MANIFEST.write_text(
        json.dumps({"compiler": "mypyc", "sources": digests}, indent=2) + "\n", encoding="utf-8"
    )


def compiled_in_use() -> bool:
    """Does a fresh interpreter import the compiled modules? (Checks the build end to end.)"""
    probe = (
        "import streams.engine, streams.engine._native as n, streams.engine.cases as c; "
        "raise SystemExit(0 if n.COMPILED and not c.__file__.endswith('.py') else 1)"
    )
    env = dict(os.environ)
    env.pop("SUPERVISION_PURE_PYTHON", None)
    return subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--strict", action="store_true", help="fail when compilation fails")
    parser.add_argument("--clean", action="store_true", help="only remove compiled modules")
    args = parser.parse_args()
    native = _load_native()
    clean(native)
    if args.clean:
        print("build_native: compiled engine modules removed; the engine runs as pure Python")
        return 0
    try:
        build(native)
        if not compiled_in_use():
            raise RuntimeError("the compiled modules do not import")
    except (Exception, SystemExit) as exc:  # distutils reports compiler failures as SystemExit
        clean(native)
        message = (
            f"build_native: mypyc compilation unavailable ({exc!r}); the engine runs as pure Python"
        )
        print(message, file=sys.stderr)
        return 1 if args.strict else 0
    print(f"build_native: compiled {', '.join(native.MODULES)} (streams/engine) with mypyc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
