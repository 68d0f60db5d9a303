"""ScrapeFunction: scrape the providers and leagues of the event into the sinks the environment
configures (rds + cache + s3 in the cloud) and return the summary per provider and league.

Event (an EventBridge schedule's input): {"providers": [...], "leagues": [...]}, either key left
out for all. An unknown provider or league raises EventError naming it; nothing is written."""

from __future__ import annotations

from typing import Any

from snuper.aws.context import LambdaContext
from snuper.aws.observability import logger, metrics, traced
from snuper.aws.scrape import scrape_event


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return scrape_event(event, context.get_remaining_time_in_millis())
