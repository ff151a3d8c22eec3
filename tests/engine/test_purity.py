"""The engine is pure: no Faust, Kafka, ClickHouse or clock reads inside (house style)."""

import ast
from pathlib import Path

import streams.engine
import streams.workflow

ENGINE_DIR = Path(streams.engine.__file__).parent
WORKFLOW_DIR = Path(streams.workflow.__file__).parent
FORBIDDEN_MODULES = {
    "faust",
    "mode",
    "aiokafka",
    "kafka",
    "clickhouse_driver",
    "chdb",
    "asyncio",
    "socket",
    "time",
    "streams.live",
    "streams.storage",
    "streams.observability",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def test_engine_imports_no_io_framework_and_reads_no_clock() -> None:
    paths = [*ENGINE_DIR.rglob("*.py"), *WORKFLOW_DIR.rglob("*.py")]  # rules/ included
    assert len(paths) > 30
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert not any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES), (
                    path.name,
                    name,
                )
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in FORBIDDEN_CALLS, (
                    path.name,
                    node.func.attr,
                    node.lineno,
                )
