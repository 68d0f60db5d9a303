"""What moto's Step Functions interpreter cannot do here, and only that, so the real ASL file runs.

moto executes a state machine definition for real (`execute_state_machine`): its states, paths,
intrinsic functions, Map, Retry and Catch. Four gaps, each closed by the smallest change:

1. `lambda:invoke` runs the function in Docker, which this machine lacks. The shim calls our
   handler in-process instead (the function ARN -> the Python handler), with the same payload
   and a Lambda-like context; the handler is the real one.
2. `ecs:runTask.sync` hands boto3 the ASL's PascalCase parameters ("'LaunchType'") and then reads
   PascalCase keys from camelCase responses. The shim translates keys both ways; moto's ECS
   still registers the task with exactly the overrides the state machine built.
3. Real Step Functions fails a `.sync` ECS state with States.TaskFailed when a container of the
   stopped task exited non-zero; moto's resolver returns the task either way. The shim adds that
   check. And the Retry waits are recorded instead of slept (an injected clock): the test checks
   the ASL's backoff (30 s, then 60 s) without waiting for it.
4. On a Retry of a `.sync` task moto reuses the first attempt's callback endpoint, which that
   attempt closed, so the retry ends at once as States.Timeout. The shim gives each attempt a
   fresh one, as a new attempt has in Step Functions.

The test plays the container runtime: it runs functions/monitor/main.py for each task moto
started, with that task's overrides, then stops the task with the process's exit status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from snuper.aws.context import LocalContext

Handler = Callable[[dict[str, Any], LocalContext], dict[str, Any]]


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _pascal(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal(item) for item in value]
    return value


class _EcsClient:
    """moto's ECS client as the Step Functions ECS integration expects it (gap 2)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def run_task(self, **parameters: Any) -> dict[str, Any]:
        return _pascal(self._client.run_task(**_camel(parameters)))  # type: ignore[no-any-return]

    def describe_tasks(self, **parameters: Any) -> dict[str, Any]:
        described: dict[str, Any] = self._client.describe_tasks(**parameters)
        described["Tasks"] = _pascal(described["tasks"])  # moto reads both spellings
        return described

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@contextmanager
def step_functions_shim(
    monkeypatch: pytest.MonkeyPatch, handlers: dict[str, Handler]
) -> Iterator[list[float]]:
    """Install the shims; yields the Retry waits the interpreter asked for, in order."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs_task,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        handler = handlers[parameters["FunctionName"]]
        payload = parameters["Payload"]
        event = json.loads(payload) if isinstance(payload, bytes | str) else payload
        name = parameters["FunctionName"].rsplit(":", 1)[-1]
        return {"StatusCode": 200, "Payload": handler(event, LocalContext(name, 900.0))}

    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", invoke)  # gap 1

    real_client_for = ecs_task.boto_client_for  # type: ignore[attr-defined]
    monkeypatch.setattr(ecs_task, "boto_client_for",
                        lambda **kw: _EcsClient(real_client_for(**kw)))  # fmt: skip  # gap 2

    real_resolver = ecs_task.StateTaskServiceEcs._build_sync_resolver

    def resolver_failing_on_exit_code(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        resolve = real_resolver(self, env, *args, **kwargs)
        assert resolve is not None

        def resolved() -> Any:
            task = resolve()
            if task and any(c.get("ExitCode", 0) != 0 for c in task.get("Containers", [])):
                details = TaskFailedEventDetails(
                    error="States.TaskFailed", cause=json.dumps(task, default=str),
                    resource="runTask.sync", resourceType="ecs",
                )  # fmt: skip
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]
                    )
                )
            return task

        return resolved

    monkeypatch.setattr(ecs_task.StateTaskServiceEcs, "_build_sync_resolver",
                        resolver_failing_on_exit_code)  # fmt: skip  # gap 3

    real_pattern = ecs_task.StateTaskServiceEcs._eval_integration_pattern

    def fresh_token_per_attempt(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        token = env.states.context_object.update_task_token()
        env.callback_pool_manager.add(token)
        real_pattern(self, env, *args, **kwargs)

    monkeypatch.setattr(ecs_task.StateTaskServiceEcs, "_eval_integration_pattern",
                        fresh_token_per_attempt)  # fmt: skip  # gap 4

    waits: list[float] = []

    class _RecordedSleep:
        @staticmethod
        def sleep(seconds: float) -> None:
            waits.append(seconds)

    monkeypatch.setattr(retrier_decl, "time", _RecordedSleep)
    yield waits
