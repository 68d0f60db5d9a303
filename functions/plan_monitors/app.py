"""PlanMonitorsFunction: the state machine's Plan step. From the latest snapshots, the monitor
jobs of today's slate: {"slate", "jobs": [{"provider", "league", "slate", "events",
"stop_after"}]}, one per league with games that are not all over.

Event: the state machine's input, {"providers": [...], "leagues": [...]} (either key left out for
all); an unknown provider or league raises EventError naming it."""

from __future__ import annotations

from typing import Any

from snuper.aws.context import LambdaContext
from snuper.aws.observability import logger, metrics, traced
from snuper.aws.plan import plan_event


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return plan_event(event)
