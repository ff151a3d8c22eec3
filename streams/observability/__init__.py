"""Operator surfaces of the worker: Prometheus metrics and the health endpoint.

- :mod:`streams.observability.metrics` — every metric, one registry, helper methods.
- :mod:`streams.observability.health` — :class:`HealthState`, what /healthz and /readyz report.
- :mod:`streams.observability.http` — the aiohttp server for /metrics, /healthz, /readyz.
"""

from streams.observability.health import HealthState
from streams.observability.metrics import METRICS, REGISTRY, Metrics

__all__ = ["METRICS", "REGISTRY", "HealthState", "Metrics"]
