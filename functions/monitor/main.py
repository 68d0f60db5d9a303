"""MonitorTask entrypoint (Fargate): `python -m functions.monitor.main` or
`python functions/monitor/main.py`.

Configuration from the environment: the state machine's overrides SNUPER_MONITOR_PROVIDER,
_LEAGUE, _SLATE (YYYYMMDD) and _STOP_AFTER (seconds), the sink variables of the task definition.
Logs JSON lines on stdout; the last one says the exit status and what was written."""

from __future__ import annotations

import sys

from snuper.aws.monitor_task import run_task
from snuper.aws.observability import UPDATES_WRITTEN, count, logger, metrics


def main() -> int:
    code, counts = run_task()
    if counts:
        count(UPDATES_WRITTEN, counts["updates"])
        metrics.flush_metrics()  # EMF on stdout, as a Lambda would print it
    logger.info("monitor finished", extra={"exit_status": code, **counts})
    return code


if __name__ == "__main__":
    sys.exit(main())
