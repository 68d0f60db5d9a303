"""Powertools Logger (JSON), Metrics (EMF) and Tracer, built once per process and shared by the
handlers and the Fargate entrypoint.

The Logger's service is "snuper" unless POWERTOOLS_SERVICE_NAME says otherwise; the library logs
under the "snuper" logger, so with the default service every library line is JSON too.

The Tracer exists only where it can trace: in Lambda (not SAM local), without
POWERTOOLS_TRACE_DISABLED=true, which is where Powertools would switch it off anyway. Elsewhere
(Fargate, tests, `make invoke`) it is not built at all: building one imports the X-Ray SDK and
botocore, 0.4 s of a handler's import time, to trace nothing."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

Handler = TypeVar("Handler", bound=Callable[..., Any])

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "snuper"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Snuper"

# Metric names (the template's alarms refer to them).
EVENTS_SCRAPED = "EventsScraped"
SCRAPE_ERRORS = "ScrapeErrors"
UPDATES_WRITTEN = "UpdatesWritten"
MONITOR_JOBS = "MonitorJobs"
PLAN_ERRORS = "PlanErrors"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def tracing_on() -> bool:
    """Powertools' own rule for when a Tracer is enabled."""
    env = os.environ
    disabled = env.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in (
        "1",
        "y",
        "yes",
        "t",
        "true",
        "on",
    )
    return bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL") and not disabled


# Only botocore is patched (S3, Secrets Manager): patching everything imports every library.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",)) if tracing_on() else None

if SERVICE != "snuper":  # another service name: the library's lines get the same JSON handler
    _library = logging.getLogger("snuper")
    _library.addHandler(logger.registered_handler)
    _library.setLevel(logger.log_level)
    _library.propagate = False


def traced(handler: Handler) -> Handler:
    """Tracer.capture_lambda_handler (responses not recorded: summaries can be large), or the
    handler as it is where there is no Tracer."""
    if tracer is None:
        return handler
    return tracer.capture_lambda_handler(handler, capture_response=False)  # type: ignore[return-value]


def count(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
