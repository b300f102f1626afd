"""Prometheus metrics: the adapter that implements the engine's and the services' observer
ports with prometheus-client, reads the region's gauges at scrape time, and times HTTP
requests (``http``). Nothing else in coldshift imports prometheus_client."""

from __future__ import annotations

from coldshift.metrics.http import HttpMetrics
from coldshift.metrics.registry import CONTENT_TYPE, Metrics

__all__ = ["CONTENT_TYPE", "HttpMetrics", "Metrics"]
