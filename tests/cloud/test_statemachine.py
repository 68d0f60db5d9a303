"""The real functions/statemachine/monitors.asl.json executed by moto's interpreter: Plan runs our
PlanMonitorsFunction handler, one ECS task is started per job with the job's overrides, and the
monitor entrypoint run with exactly those overrides writes the updates into the sinks. A task that
keeps failing is retried as the ASL says, then caught (tests/cloud/sfn_shim.py: what moto lacks)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from snuper.sim.options import SimOptions
from tests.cloud.conftest import DK_NBA, ROOT, TABLE, Handlers, invoke, load_event, simulators
from tests.cloud.sfn_shim import step_functions_shim
from tests.cloud.test_template import load_template
from tests.e2e.cli import FROZEN_SLATE
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, scenario
from tests.e2e.test_sinks import odds_moves, read_back

ASL = ROOT / "functions" / "statemachine" / "monitors.asl.json"
ENTRYPOINT = ROOT / "functions" / "monitor" / "main.py"
REGION, ACCOUNT = "us-east-1", "123456789012"
# Runs a started task as the container would: given its overrides, returns its exit status.
Container = Callable[[dict[str, str]], Awaitable[int]]


@pytest.fixture
def sinks(
    monkeypatch: pytest.MonkeyPatch, lambda_env: dict[str, str], pg_uri: str, redis_uri: str
) -> dict[str, str]:
    """The task definition's sink environment. PostgreSQL and Redis: moto's S3 shares the
    process-wide moto state that mock_aws resets, and S3 is covered by the handler tests."""
    env = {**lambda_env, "SNUPER_SINK": "rds,cache", "SNUPER_RDS_URI": pg_uri,
           "SNUPER_RDS_TABLE": TABLE, "SNUPER_CACHE_URI": redis_uri}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def substituted(values: dict[str, str]) -> str:
    """The ASL with the template's DefinitionSubstitutions filled in (every one, no other)."""
    machine = load_template()["Resources"]["MonitorsStateMachine"]["Properties"]
    declared = set(machine["DefinitionSubstitutions"])
    assert declared == set(values), "the test must fill in exactly what the template declares"
    text = ASL.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", text)) == declared
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def aws_world() -> dict[str, str]:
    """In moto: the VPC, subnet and security group of the tasks, the cluster, the monitor task
    definition, and a PlanMonitorsFunction to stand for (its code never runs: the shim calls our
    handler). Returns the DefinitionSubstitutions."""
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="app", Description="tasks", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="snuper")["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family="snuper-monitor", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="256", memory="512",
        containerDefinitions=[{"name": "monitor", "image": "snuper-monitor", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context): raise RuntimeError('shim')\n")
    plan = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="PlanMonitorsFunction", Runtime="python3.12", Role=role["Arn"],
        Handler="app.handler", Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]  # fmt: skip
    return {"PlanMonitorsFunctionArn": plan, "ClusterArn": cluster,
            "TaskDefinitionArn": task_definition, "Subnets": subnet, "SecurityGroup": group,
            "MaxConcurrency": "2", "ContainerName": "monitor"}  # fmt: skip


async def execute(
    world: dict[str, str], run_container: Container
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Start the state machine with events/statemachine-start.json and play the container
    runtime until it ends: each task moto starts is run, then stopped with its exit status.
    Returns the execution's output and the overrides of every task, in start order."""
    import boto3
    from moto.ecs.models import ecs_backends

    sfn = boto3.client("stepfunctions", region_name=REGION)
    ecs = boto3.client("ecs", region_name=REGION)
    machine = sfn.create_state_machine(
        name="monitors", definition=substituted(world),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]  # fmt: skip
    started = sfn.start_execution(
        stateMachineArn=machine, input=json.dumps(load_event("statemachine-start.json"))
    )["executionArn"]
    seen: list[dict[str, str]] = []
    handled: set[str] = set()
    for _ in range(1200):  # 120 s at most
        status = sfn.describe_execution(executionArn=started)
        if status["status"] != "RUNNING":
            break
        for arn in ecs.list_tasks(cluster=world["ClusterArn"])["taskArns"]:
            if arn in handled:
                continue
            handled.add(arn)
            [task] = ecs.describe_tasks(cluster=world["ClusterArn"], tasks=[arn])["tasks"]
            [container] = task["overrides"]["containerOverrides"]
            assert container["name"] == "monitor"
            env = {pair["name"]: pair["value"] for pair in container["environment"]}
            seen.append(env)
            code = await run_container(env)
            stored = ecs_backends[ACCOUNT][REGION].tasks["snuper"][arn]
            stored.containers[0].exitCode = code  # what ECS reports when the container stops
            ecs.stop_task(cluster=world["ClusterArn"], task=arn, reason=f"exit {code}")
        await asyncio.sleep(0.1)
    assert status["status"] == "SUCCEEDED", status
    return json.loads(status["output"]), seen


async def monitor_process(env: dict[str, str]) -> int:
    """functions/monitor/main.py with exactly the task's overrides on top of the task
    definition's environment (this process's: the sinks, the simulator, the clock)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ENTRYPOINT), cwd=ROOT, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    assert err == b"", err.decode()
    return process.returncode


async def test_plan_then_one_task_per_job_whose_monitor_writes_the_updates(
    monkeypatch: pytest.MonkeyPatch, sinks: dict[str, str], handlers: Handlers
) -> None:
    from moto import mock_aws

    async with simulators(monkeypatch, SimOptions(speed=10), {"nba": scenario()}):
        scraped = await invoke(handlers.scrape, DK_NBA, "ScrapeFunction")
        assert [r["league"] for r in scraped["results"] if r["status"] == "written"] == ["nba"]
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            world = aws_world()
            plan = {world["PlanMonitorsFunctionArn"]: handlers.plan}
            with step_functions_shim(monkeypatch, plan) as waits:
                output, tasks = await execute(world, monitor_process)
    # Only nba has a snapshot: one job, one task, with the plan's values as its overrides.
    assert [(t["SNUPER_MONITOR_PROVIDER"], t["SNUPER_MONITOR_LEAGUE"], t["SNUPER_MONITOR_SLATE"])
            for t in tasks] == [("draftkings", "nba", FROZEN_SLATE)]  # fmt: skip
    assert set(tasks[0]) == {"SNUPER_MONITOR_PROVIDER", "SNUPER_MONITOR_LEAGUE",
                             "SNUPER_MONITOR_SLATE", "SNUPER_MONITOR_STOP_AFTER"}  # fmt: skip
    assert int(tasks[0]["SNUPER_MONITOR_STOP_AFTER"]) >= 60
    assert output["slate"] == FROZEN_SLATE and output["jobs"] == 1
    assert output["results"] == [{"provider": "draftkings", "league": "nba",
                                  "slate": FROZEN_SLATE, "status": "done"}]  # fmt: skip
    assert waits == []  # nothing failed, nothing retried
    flags = ["--sink", "rds", "--rds-uri", sinks["SNUPER_RDS_URI"], "--rds-table", TABLE,
             "--cache-uri", sinks["SNUPER_CACHE_URI"]]  # fmt: skip
    for sink in ("rds", "cache"):
        assert odds_moves(await read_back(sink, flags, {}, BUSY)) == EXPECTED, sink


async def test_a_failing_task_is_retried_with_backoff_then_caught(
    monkeypatch: pytest.MonkeyPatch, sinks: dict[str, str], handlers: Handlers
) -> None:
    from moto import mock_aws

    async def crashing_container(env: dict[str, str]) -> int:
        return 137  # killed: out of memory, say

    async with simulators(monkeypatch, SimOptions(speed=10), {"nba": scenario()}):
        await invoke(handlers.scrape, DK_NBA, "ScrapeFunction")
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            world = aws_world()
            plan = {world["PlanMonitorsFunctionArn"]: handlers.plan}
            with step_functions_shim(monkeypatch, plan) as waits:
                output, tasks = await execute(world, crashing_container)
    assert len(tasks) == 3  # the first run and two retries (MaxAttempts 2)
    assert tasks[0] == tasks[1] == tasks[2]  # each retry with the same overrides
    assert waits == [30, 60]  # IntervalSeconds 30, BackoffRate 2
    [result] = output["results"]
    assert result["status"] == "failed" and result["error"] == "States.TaskFailed"
    assert '"ExitCode": 137' in result["cause"]
