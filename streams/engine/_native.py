"""Compiled or pure Python: which form of the engine modules this process imports.

The engine's ``.py`` files are the source of truth. ``make native``
(``scripts/build_native.py``) may compile the hot ones with mypyc into
extension modules next to them, and records a hash of each source it
compiled in ``_native.json``. Python prefers an extension module to a
``.py`` of the same name, so before any engine module is imported this
module checks that every compiled module was built from the source now on
disk. If one was not (a source edited after the build), or when
``SUPERVISION_PURE_PYTHON=1`` is set, the ``.py`` files are imported
instead, with a warning in the first case: a stale build never runs.

Never compiled itself; imports nothing from the engine.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = "streams.engine"
ENGINE_DIR = Path(__file__).resolve().parent
# The modules scripts/build_native.py compiles (the hot path of replay and the live service).
# Dotted names are modules of a subpackage ("rules.core": streams/engine/rules/core.py).
MODULES = (
    "alerts",
    "calendar",
    "cases",
    "casestore",
    "clock",
    "cross",
    "deadlines",
    "engine",
    "facts",
    "model",
    "pending",
    "reports",
    "resolve",
    "retention",
    "rules.approval",
    "rules.context",
    "rules.core",
    "rules.funds",
    "rules.inspections",
    "rules.tasks",
    "rules.trading",
    "state",
    "timeutil",
    "validate",
)
MANIFEST = ENGINE_DIR / "_native.json"
PURE_ENV = "SUPERVISION_PURE_PYTHON"


def source_name(module: str) -> str:
    """The source of a module of ``MODULES``, relative to the engine ("rules/core.py")."""
    return module.replace(".", "/") + ".py"


def source_digest(module: str) -> str:
    return hashlib.sha256((ENGINE_DIR / source_name(module)).read_bytes()).hexdigest()


def compiled_files(module: str) -> list[Path]:
    stem = ENGINE_DIR / module.replace(".", "/")
    return [
        stem.with_name(stem.name + suffix)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if stem.with_name(stem.name + suffix).exists()
    ]


def _stale_reason() -> str | None:
    """Why the compiled modules on disk must not be used (None: they match the sources)."""
    try:
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{MANIFEST.name} is missing or unreadable"
    digests = manifest.get("sources", {}) if isinstance(manifest, dict) else {}
    for module in MODULES:
        if not compiled_files(module):
            return f"{module} is not compiled"
        if digests.get(module) != source_digest(module):
            return f"{source_name(module)} changed after it was compiled"
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the engine's compiled modules as their ``.py`` sources."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.startswith(PACKAGE + "."):
            return None
        name = fullname[len(PACKAGE) + 1 :]
        if name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, ENGINE_DIR / source_name(name))


def _select() -> bool:
    """True when the compiled modules will be imported; else route imports to the sources."""
    if not any(compiled_files(module) for module in MODULES):
        return False
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        reason = None
    else:
        reason = _stale_reason()
        if reason is None:
            return True
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())
    if reason is not None:
        warnings.warn(
            f"compiled engine modules not used ({reason}); running pure Python: "
            "run `make native` to rebuild them",
            RuntimeWarning,
            stacklevel=2,
        )
    return False


COMPILED = _select()
