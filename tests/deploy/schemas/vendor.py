"""Re-vendor the JSON Schemas the offline deploy tests validate against.

Sources (PyPI packages that ship them; install into the venv first):

- ``compose-spec.json`` — the Compose Specification schema vendored by
  ``check-jsonschema`` (``check_jsonschema/builtin_schemas/vendor/compose-spec.json``);
- ``kubernetes/<version>/*.json`` — the strict schemas shipped by
  ``kubernetes-validate``, one file per kind we deploy, plus ``_definitions.json``
  pruned to the definitions those kinds reach.

Run:  .venv/bin/python tests/deploy/schemas/vendor.py
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
K8S_VERSION = "v1.33.0-local-strict"
K8S_KINDS = [
    "namespace-v1",
    "configmap-v1",
    "service-v1",
    "deployment-apps-v1",
    "poddisruptionbudget-policy-v1",
    "horizontalpodautoscaler-autoscaling-v2",
]


def files(package: str) -> Path:
    """The installed folder of ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, f"{package} is not installed"
    return Path(spec.origin).parent


REF = re.compile(r"#/\$defs/([^\"]+)")


def _refs(node: Any) -> set[str]:
    return set(REF.findall(json.dumps(node)))


def vendor_compose() -> None:
    source = files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    (HERE / "compose-spec.json").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def vendor_kubernetes() -> None:
    source = files("kubernetes_validate") / "kubernetes-json-schema" / K8S_VERSION
    target = HERE / "kubernetes" / K8S_VERSION
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    definitions = json.loads((source / "_definitions.json").read_text(encoding="utf-8"))
    wanted: set[str] = set()
    todo: set[str] = set()
    for kind in K8S_KINDS:
        text = (source / f"{kind}.json").read_text(encoding="utf-8")
        (target / f"{kind}.json").write_text(text, encoding="utf-8")
        todo |= _refs(json.loads(text))
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo |= _refs(definitions["$defs"][name]) - wanted
    pruned = {k: v for k, v in definitions.items() if k != "$defs"}
    pruned["$defs"] = {k: definitions["$defs"][k] for k in sorted(wanted)}
    (target / "_definitions.json").write_text(
        json.dumps(pruned, indent=1, sort_keys=True), encoding="utf-8"
    )


def main() -> None:
    vendor_compose()
    vendor_kubernetes()
    (HERE / "SOURCES.txt").write_text(
        f"compose-spec.json: check-jsonschema {version('check-jsonschema')} (builtin_schemas/vendor);"
        " the Compose Specification schema, Apache-2.0\n"
        f"kubernetes/{K8S_VERSION}: kubernetes-validate {version('kubernetes-validate')}"
        " (pruned _definitions.json); Kubernetes OpenAPI schemas, Apache-2.0\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
