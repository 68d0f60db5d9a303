"""template.yaml, the state machine definition and the images, checked offline.

Each rule is a function that returns the problems it finds (empty = good); the tests assert that
the real files have none, and `test_rules_catch_a_broken_template` breaks a copy of the template
once per rule to show that each rule can fail. cfn-lint (the version pinned in requirements.lock,
the same as .venv-tools) lints the template with zero matches, as `make validate` does."""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL = ROOT / "functions" / "statemachine" / "monitors.asl.json"
PLAN_REQUIREMENTS = ROOT / "functions" / "plan_monitors" / "requirements.txt"

Template = dict[str, Any]

# Logical id -> type of everything the issue asks the template to hold.
REQUIRED: dict[str, str] = {
    "ScrapeFunction": "AWS::Serverless::Function",
    "ScrapeLogGroup": "AWS::Logs::LogGroup",
    "PlanMonitorsFunction": "AWS::Serverless::Function",
    "PlanMonitorsLogGroup": "AWS::Logs::LogGroup",
    "SnuperLibraryLayer": "AWS::Serverless::LayerVersion",
    "MonitorsStateMachine": "AWS::Serverless::StateMachine",
    "MonitorsStateMachineLogGroup": "AWS::Logs::LogGroup",
    "MonitorsSchedule": "AWS::Scheduler::Schedule",
    "MonitorCluster": "AWS::ECS::Cluster",
    "MonitorTaskDefinition": "AWS::ECS::TaskDefinition",
    "MonitorTaskRole": "AWS::IAM::Role",
    "MonitorExecutionRole": "AWS::IAM::Role",
    "MonitorRepository": "AWS::ECR::Repository",
    "MonitorLogGroup": "AWS::Logs::LogGroup",
    "DataBucket": "AWS::S3::Bucket",
    "DataBucketPolicy": "AWS::S3::BucketPolicy",
    "Database": "AWS::RDS::DBInstance",
    "DatabaseSubnetGroup": "AWS::RDS::DBSubnetGroup",
    "Cache": "AWS::ElastiCache::ReplicationGroup",
    "CacheSubnetGroup": "AWS::ElastiCache::SubnetGroup",
    "AppSecurityGroup": "AWS::EC2::SecurityGroup",
    "DatabaseSecurityGroup": "AWS::EC2::SecurityGroup",
    "CacheSecurityGroup": "AWS::EC2::SecurityGroup",
    "AlarmTopic": "AWS::SNS::Topic",
    "MonitorsFailedAlarm": "AWS::CloudWatch::Alarm",
    "ScrapeFunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
    "ScrapeErrorsAlarm": "AWS::CloudWatch::Alarm",
}
REQUIRED_OUTPUTS = (
    "MonitorsStateMachineArn",
    "DataBucketName",
    "DatabaseEndpoint",
    "CacheEndpoint",
    "MonitorRepositoryUri",
    "MonitorClusterName",
)
# Actions AWS only grants on Resource "*" (no narrower resource exists for them).
STAR_RESOURCE_ACTIONS = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
# The environment the glue (shared/snuper/aws) reads, set on the functions and the task.
CLOUD_ENV = (
    "SNUPER_SINK",
    "SNUPER_RDS_SECRET_ARN",
    "SNUPER_RDS_HOST",
    "SNUPER_RDS_PORT",
    "SNUPER_RDS_DBNAME",
    "SNUPER_RDS_TABLE",
    "SNUPER_CACHE_URI",
    "SNUPER_S3_BUCKET",
    "SNUPER_S3_PREFIX",
    "SNUPER_STATE",
    "SNUPER_STAGING_DIR",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
)
MONITOR_OVERRIDES = (
    "SNUPER_MONITOR_PROVIDER",
    "SNUPER_MONITOR_LEAGUE",
    "SNUPER_MONITOR_SLATE",
    "SNUPER_MONITOR_STOP_AFTER",
)
SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"


def load_template(text: str | None = None) -> Template:
    """template.yaml with its short tags (!Ref, !GetAtt, !Sub ...) as their long JSON forms,
    as plain dicts and lists."""
    node = cfn_yaml.loads(TEMPLATE.read_text() if text is None else text, str(TEMPLATE))
    plain = json.loads(json.dumps(node))
    assert isinstance(plain, dict)
    return plain


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template()


def resources(t: Template) -> dict[str, Any]:
    found = t.get("Resources", {})
    assert isinstance(found, dict)
    return found


def props(t: Template, logical_id: str) -> dict[str, Any]:
    found = resources(t)[logical_id].get("Properties", {})
    assert isinstance(found, dict)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def number(t: Template, value: Any) -> tuple[float, float]:
    """(lowest, highest) a property can be: a literal, or a !Ref to a Number parameter (its
    MinValue/MaxValue, else its Default)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = t["Parameters"][value["Ref"]]
        default = float(param["Default"])
        return float(param.get("MinValue", default)), float(param.get("MaxValue", default))
    return float(value), float(value)


def env_names(variables: Any) -> set[str]:
    if isinstance(variables, dict):  # a function's Environment.Variables
        return set(variables)
    return {entry["Name"] for entry in variables}  # a container's Environment list


# ------------------------------------------------------------------ the rules


def missing_resources(t: Template) -> list[str]:
    problems = []
    for logical_id, kind in REQUIRED.items():
        found = resources(t).get(logical_id)
        if found is None:
            problems.append(f"{logical_id} ({kind}) is missing")
        elif found.get("Type") != kind:
            problems.append(f"{logical_id} is {found.get('Type')}, not {kind}")
    problems += [
        f"output {name} is missing" for name in REQUIRED_OUTPUTS if name not in t.get("Outputs", {})
    ]
    return problems


def policy_statements(t: Template) -> Iterator[tuple[str, Any]]:
    """(where, statement) for every policy statement in the template: any mapping with an Effect
    and an Action/NotAction, wherever it sits (roles, bucket policies, SAM inline policies)."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            if "Effect" in node and ("Action" in node or "NotAction" in node):
                yield where, node
            for key, value in node.items():
                yield from walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{where}[{index}]")

    yield from walk(resources(t), "Resources")


def iam_problems(t: Template) -> list[str]:
    """No Allow statement grants an action with `*` (or uses NotAction); Resource `*` only for the
    actions AWS grants on nothing narrower. A Deny may use `*` (it only takes away: the bucket's
    TLS-only policy denies `s3:*`). SAM Policies must be inline statements: a managed policy or a
    SAM policy template hides its actions from this check."""
    problems = []
    for where, statement in policy_statements(t):
        if statement["Effect"] == "Deny":
            continue
        if "NotAction" in statement:
            problems.append(f"{where}: Allow with NotAction")
        actions = [str(a) for a in as_list(statement.get("Action", []))]
        problems += [f"{where}: action {a!r} has a *" for a in actions if "*" in a]
        if "*" in as_list(statement.get("Resource", [])):
            broad = sorted(set(actions) - STAR_RESOURCE_ACTIONS)
            if broad:
                problems.append(f"{where}: Resource * for {broad}")
    for logical_id, resource in resources(t).items():
        if resource.get("Type") not in (
            "AWS::Serverless::Function",
            "AWS::Serverless::StateMachine",
        ):
            continue
        for index, policy in enumerate(as_list(resource.get("Properties", {}).get("Policies", []))):
            if not (isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}):
                problems.append(f"{logical_id}.Policies[{index}]: not an inline statement list")
    return problems


def allowed_actions(t: Template, logical_id: str) -> dict[str, list[Any]]:
    """action -> the resources an inline Allow of this SAM resource grants it on."""
    granted: dict[str, list[Any]] = {}
    for policy in as_list(props(t, logical_id).get("Policies", [])):
        for statement in as_list(policy.get("Statement", [])):
            if statement.get("Effect") != "Allow":
                continue
            for action in as_list(statement.get("Action", [])):
                granted.setdefault(action, []).extend(as_list(statement.get("Resource")))
    return granted


def sync_permission_problems(t: Template) -> list[str]:
    """What arn:aws:states:::ecs:runTask.sync and the Plan step need, spelled out."""
    granted = allowed_actions(t, "MonitorsStateMachine")
    problems = [
        f"MonitorsStateMachine may not {action}"
        for action in (
            "lambda:InvokeFunction",
            "ecs:RunTask",
            "ecs:StopTask",
            "ecs:DescribeTasks",
            "iam:PassRole",
            "events:PutTargets",
            "events:PutRule",
            "events:DescribeRule",
        )
        if action not in granted
    ]
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        if action in granted and SYNC_RULE not in json.dumps(granted[action]):
            problems.append(f"{action} is not on the rule {SYNC_RULE}")
    passed = json.dumps(granted.get("iam:PassRole", []))
    for role in ("MonitorTaskRole", "MonitorExecutionRole"):
        if role not in passed:
            problems.append(f"iam:PassRole does not cover {role}")
    if "PlanMonitorsFunction" not in json.dumps(granted.get("lambda:InvokeFunction", [])):
        problems.append("lambda:InvokeFunction is not on PlanMonitorsFunction")
    return problems


def substitution_problems(t: Template, asl_text: str) -> list[str]:
    """Every ${Name} of the ASL is a DefinitionSubstitution, and every substitution is used."""
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl_text))
    defined = set(props(t, "MonitorsStateMachine").get("DefinitionSubstitutions", {}))
    return [
        f"${{{name}}} is used in the ASL but not substituted" for name in sorted(used - defined)
    ] + [f"substitution {name} is not used in the ASL" for name in sorted(defined - used)]


def state_machine_problems(t: Template, asl_text: str) -> list[str]:
    problems = []
    machine = props(t, "MonitorsStateMachine")
    if machine.get("DefinitionUri") != "functions/statemachine/monitors.asl.json":
        problems.append("DefinitionUri is not functions/statemachine/monitors.asl.json")
    try:
        asl = json.loads(asl_text)  # valid JSON before substitution, as the ASL says
    except ValueError as exc:
        return [*problems, f"the ASL is not JSON: {exc}"]
    states = asl["States"]
    if states.get("Plan", {}).get("Resource") != "arn:aws:states:::lambda:invoke":
        problems.append("Plan does not invoke a Lambda function")
    monitor = states.get("Monitor", {})
    if monitor.get("Type") != "Map" or monitor.get("ItemsPath") != "$.jobs":
        problems.append("Monitor is not a Map over $.jobs")
    if "MaxConcurrency" not in monitor and "MaxConcurrencyPath" not in monitor:
        problems.append("Monitor has no MaxConcurrency")
    inner = monitor.get("ItemProcessor", monitor.get("Iterator", {})).get("States", {})
    run = inner.get("RunMonitor", {})
    if run.get("Resource") != "arn:aws:states:::ecs:runTask.sync":
        problems.append("RunMonitor is not ecs:runTask.sync")
    params = run.get("Parameters", {})
    if params.get("LaunchType") != "FARGATE":
        problems.append("RunMonitor does not launch on FARGATE")
    [override] = params.get("Overrides", {}).get("ContainerOverrides", [{}])
    names = {entry.get("Name") for entry in override.get("Environment", [])}
    problems += [f"the task gets no {name}" for name in MONITOR_OVERRIDES if name not in names]
    substitutions = machine.get("DefinitionSubstitutions", {})
    container = override.get("Name", "").replace(
        "${ContainerName}", substitutions.get("ContainerName", "")
    )
    if container != "monitor":
        problems.append(f"the overrides name container {container!r}, not 'monitor'")
    retries = [r for r in run.get("Retry", []) if "States.TaskFailed" in r["ErrorEquals"]]
    if not retries or retries[0].get("BackoffRate", 1) <= 1:
        problems.append("RunMonitor does not retry States.TaskFailed with backoff")
    catches = [c for c in run.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
    if not catches or inner.get(catches[0]["Next"], {}).get("Type") != "Pass":
        problems.append("RunMonitor does not catch failures into a Pass state")
    if states.get(monitor.get("Next", ""), {}).get("Type") != "Pass":
        problems.append("no summary after the Map")
    return problems


def scrape_function_problems(t: Template) -> list[str]:
    p = props(t, "ScrapeFunction")
    meta = resources(t)["ScrapeFunction"].get("Metadata", {})
    problems = []
    if p.get("PackageType") != "Image":
        problems.append("ScrapeFunction is not PackageType Image")
    if number(t, p.get("MemorySize", 128))[0] < 2048:
        problems.append("ScrapeFunction may get less than 2048 MB")
    if number(t, p.get("Timeout", 3))[1] > 900:
        problems.append("ScrapeFunction's timeout may exceed 900 s")
    if meta.get("Dockerfile") != "functions/scrape/Dockerfile" or meta.get("DockerContext") != ".":
        problems.append(
            "ScrapeFunction is not built from functions/scrape/Dockerfile in the repo root"
        )
    inputs = [
        e["Properties"].get("Input")
        for e in p.get("Events", {}).values()
        if e["Type"] in ("Schedule", "ScheduleV2")
    ]
    if not inputs or not all(inputs):
        problems.append("ScrapeFunction has no schedule passing an input")
    return problems


def storage_problems(t: Template) -> list[str]:
    problems = []
    bucket = props(t, "DataBucket")
    block = bucket.get("PublicAccessBlockConfiguration", {})
    for flag in (
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ):
        if block.get(flag) is not True:
            problems.append(f"DataBucket: {flag} is not true")
    rules = bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    if not rules or "SSEAlgorithm" not in rules[0].get("ServerSideEncryptionByDefault", {}):
        problems.append("DataBucket is not encrypted")
    lifecycle = bucket.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(rule.get("Transitions") for rule in lifecycle):
        problems.append("DataBucket has no lifecycle transition")
    tls = [
        s
        for s in props(t, "DataBucketPolicy")["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s.get("Condition"))
    ]
    if not tls:
        problems.append("DataBucketPolicy does not deny requests without TLS")
    db = props(t, "Database")
    if db.get("ManageMasterUserPassword") is not True or "MasterUserPassword" in db:
        problems.append("Database does not use ManageMasterUserPassword")
    if db.get("StorageEncrypted") is not True:
        problems.append("Database storage is not encrypted")
    if db.get("PubliclyAccessible") is not False:
        problems.append("Database may be publicly accessible")
    cache = props(t, "Cache")
    if cache.get("TransitEncryptionEnabled") is not True:
        problems.append("Cache does not use TLS (TransitEncryptionEnabled)")
    if cache.get("AtRestEncryptionEnabled") is not True:
        problems.append("Cache is not encrypted at rest")
    return problems


def network_problems(t: Template) -> list[str]:
    """The database and cache admit only AppSecurityGroup, on their own port."""
    problems = []
    for group, port in (("DatabaseSecurityGroup", 5432), ("CacheSecurityGroup", 6379)):
        ingress = props(t, group).get("SecurityGroupIngress", [])
        ingress = ingress + [
            r["Properties"]
            for r in resources(t).values()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress"
            and group in json.dumps(r["Properties"].get("GroupId"))
        ]
        if not ingress:
            problems.append(f"{group} admits nothing")
        for rule in ingress:
            source = json.dumps(rule.get("SourceSecurityGroupId"))
            if "AppSecurityGroup" not in source or "CidrIp" in rule or "CidrIpv6" in rule:
                problems.append(f"{group} admits something else than AppSecurityGroup")
            if (rule.get("FromPort"), rule.get("ToPort")) != (port, port):
                problems.append(f"{group} admits ports {rule.get('FromPort')}-{rule.get('ToPort')}")
    return problems


def task_problems(t: Template) -> list[str]:
    problems = []
    task = props(t, "MonitorTaskDefinition")
    if task.get("RequiresCompatibilities") != ["FARGATE"] or task.get("NetworkMode") != "awsvpc":
        problems.append("MonitorTaskDefinition is not FARGATE/awsvpc")
    containers = {c["Name"]: c for c in task.get("ContainerDefinitions", [])}
    monitor = containers.get("monitor")
    if monitor is None:
        return [*problems, f"no container named 'monitor' (found {sorted(containers)})"]
    if "Memory" not in monitor:
        problems.append("the monitor container has no container-level Memory")
    if not 20 <= monitor.get("StopTimeout", 0) <= 120:
        problems.append("the monitor container's StopTimeout is not 20-120 s")
    logs = monitor.get("LogConfiguration", {}).get("Options", {}).get("awslogs-group")
    if logs != {"Ref": "MonitorLogGroup"}:
        problems.append("the monitor container does not log to MonitorLogGroup")
    missing = [n for n in CLOUD_ENV if n not in env_names(monitor.get("Environment", []))]
    problems += [f"the monitor container gets no {n}" for n in missing]
    return problems


def function_problems(t: Template) -> list[str]:
    problems = []
    shared = t.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for logical_id in ("ScrapeFunction", "PlanMonitorsFunction"):
        own = props(t, logical_id).get("Environment", {}).get("Variables", {})
        missing = [n for n in CLOUD_ENV if n not in env_names({**shared, **own})]
        problems += [f"{logical_id} gets no {n}" for n in missing]
    plan = props(t, "PlanMonitorsFunction")
    if (plan.get("Runtime"), plan.get("Handler"), plan.get("CodeUri")) != (
        "python3.12",
        "app.handler",
        "functions/plan_monitors/",
    ):
        problems.append(
            "PlanMonitorsFunction is not python3.12 app.handler in functions/plan_monitors/"
        )
    if {"Ref": "SnuperLibraryLayer"} not in plan.get("Layers", []):
        problems.append(
            "PlanMonitorsFunction does not carry the snuper package (SnuperLibraryLayer)"
        )
    layer = props(t, "SnuperLibraryLayer")
    if not (ROOT / str(layer.get("ContentUri", "")) / "snuper" / "__init__.py").is_file():
        problems.append("SnuperLibraryLayer's ContentUri does not hold the snuper package")
    meta = resources(t)["SnuperLibraryLayer"].get("Metadata", {})
    if meta.get("BuildMethod") == "makefile":  # sam build runs `make build-<LogicalId>` there
        makefile = ROOT / str(meta.get("ContextPath", layer.get("ContentUri"))) / "Makefile"
        if not makefile.is_file() or not re.search(
            r"^build-SnuperLibraryLayer:", makefile.read_text(), re.M
        ):
            problems.append(f"{makefile} has no build-SnuperLibraryLayer target")
    for logical_id, resource in resources(t).items():
        if resource["Type"] == "AWS::Logs::LogGroup" and "RetentionInDays" not in resource.get(
            "Properties", {}
        ):
            problems.append(f"{logical_id} keeps logs forever")
    return problems


RULES: dict[str, Callable[[Template], list[str]]] = {
    "resources": missing_resources,
    "iam": iam_problems,
    "sync permissions": sync_permission_problems,
    "substitutions": lambda t: substitution_problems(t, ASL.read_text()),
    "state machine": lambda t: state_machine_problems(t, ASL.read_text()),
    "scrape function": scrape_function_problems,
    "storage": storage_problems,
    "network": network_problems,
    "task": task_problems,
    "functions": function_problems,
}


@pytest.mark.parametrize("rule", RULES)
def test_template_follows_rule(template: Template, rule: str) -> None:
    assert RULES[rule](template) == []


# ------------------------------------------------------------------ each rule can fail


def _drop(logical_id: str) -> Callable[[Template], None]:
    return lambda t: t["Resources"].pop(logical_id)


def _set(logical_id: str, key: str, value: Any) -> Callable[[Template], None]:
    def mutate(t: Template) -> None:
        t["Resources"][logical_id]["Properties"][key] = value

    return mutate


def _star_action(t: Template) -> None:
    t["Resources"]["MonitorTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][
        0
    ]["Action"] = ["s3:*"]


def _star_resource(t: Template) -> None:
    statement = t["Resources"]["MonitorTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ][0]
    statement["Resource"] = "*"


def _managed_policy(t: Template) -> None:
    t["Resources"]["ScrapeFunction"]["Properties"]["Policies"].append("AmazonS3FullAccess")


def _no_sync_rule(t: Template) -> None:
    for statement in t["Resources"]["MonitorsStateMachine"]["Properties"]["Policies"][0][
        "Statement"
    ]:
        if "events:PutRule" in statement["Action"]:
            statement["Resource"] = "arn:aws:events:us-east-1:123456789012:rule/other"


def _undefined_substitution(t: Template) -> None:
    t["Resources"]["MonitorsStateMachine"]["Properties"]["DefinitionSubstitutions"].pop(
        "ClusterArn"
    )


def _container_renamed(t: Template) -> None:
    t["Resources"]["MonitorTaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Name"] = "app"


def _db_open_to_all(t: Template) -> None:
    t["Resources"]["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"].append(
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"}
    )


def _no_env(t: Template) -> None:
    t["Globals"]["Function"]["Environment"]["Variables"].pop("SNUPER_RDS_SECRET_ARN")


def _layer_target_missing(t: Template) -> None:
    t["Resources"]["SnuperLibraryLayer"]["Metadata"]["ContextPath"] = "layers/playwright"


def _retype(t: Template) -> None:
    t["Resources"]["Database"]["Type"] = "AWS::RDS::DBCluster"


def _public_bucket(t: Template) -> None:
    t["Resources"]["DataBucket"]["Properties"]["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ] = False


BREAKAGES: dict[str, tuple[str, Callable[[Template], None]]] = {
    "a required resource missing": ("resources", _drop("Cache")),
    "a required resource of another type": ("resources", _retype),
    "an Allow with a * action": ("iam", _star_action),
    "a Resource * beyond what AWS requires": ("iam", _star_resource),
    "a managed policy on a function": ("iam", _managed_policy),
    "the .sync events rule not granted": ("sync permissions", _no_sync_rule),
    "an ASL ${Name} not substituted": ("substitutions", _undefined_substitution),
    "a zip ScrapeFunction": ("scrape function", _set("ScrapeFunction", "PackageType", "Zip")),
    "a ScrapeFunction of 1024 MB": ("scrape function", _set("ScrapeFunction", "MemorySize", 1024)),
    "a ScrapeFunction timeout of 901 s": (
        "scrape function",
        _set("ScrapeFunction", "Timeout", 901),
    ),
    "a bucket open to public policies": ("storage", _public_bucket),
    "an unencrypted bucket": ("storage", _set("DataBucket", "BucketEncryption", {})),
    "a database password in the template": (
        "storage",
        _set("Database", "ManageMasterUserPassword", False),
    ),
    "a cache without TLS": ("storage", _set("Cache", "TransitEncryptionEnabled", False)),
    "a database open to the internet": ("network", _db_open_to_all),
    "the monitor container renamed": ("task", _container_renamed),
    "a function without the secret's ARN": ("functions", _no_env),
    "PlanMonitors without the library layer": (
        "functions",
        _set("PlanMonitorsFunction", "Layers", []),
    ),
    "the layer built by a target that does not exist": ("functions", _layer_target_missing),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_rules_catch_a_broken_template(template: Template, breakage: str) -> None:
    rule, mutate = BREAKAGES[breakage]
    broken = copy.deepcopy(template)
    mutate(broken)
    assert RULES[rule](broken), f"rule {rule!r} did not notice {breakage}"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"Cluster": "${ClusterArn}"', '"Cluster": "${MonitorClusterArn}"'),  # not substituted
        ('"Value.$": "$.league"', '"Value.$": "$.league", "Extra": "${Nowhere}"'),
    ],
)
def test_substitution_rule_catches_a_broken_asl(template: Template, old: str, new: str) -> None:
    text = ASL.read_text()
    assert old in text
    assert substitution_problems(template, text.replace(old, new))


def test_state_machine_rule_catches_a_broken_asl(template: Template) -> None:
    text = ASL.read_text()
    assert state_machine_problems(template, text.replace("runTask.sync", "runTask"))
    assert state_machine_problems(template, text.replace('"States.TaskFailed"', '"States.Timeout"'))
    assert state_machine_problems(template, text.replace('"SNUPER_MONITOR_SLATE"', '"SLATE"'))
    assert state_machine_problems(template, text + "}")


# ------------------------------------------------------------------ cfn-lint, packaging, images


def cfn_lint_matches(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


def test_cfn_lint_is_clean() -> None:
    assert cfn_lint_matches(TEMPLATE.read_text()) == []


def test_cfn_lint_catches_a_broken_template() -> None:
    text = TEMPLATE.read_text()
    assert "Engine: postgres\n" in text
    assert cfn_lint_matches(text.replace("Engine: postgres\n", "Engine: postgress\n"))


def plan_requirements_problems(requirements: str) -> list[str]:
    """functions/plan_monitors/requirements.txt pins snuper's runtime dependencies as
    pyproject.toml does, minus Playwright (too big for a zip) and aiohttp (the simulators),
    plus tzdata."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    expected = {
        d.lower()
        for d in pyproject["project"]["dependencies"]
        if not d.startswith(("playwright", "aiohttp"))
    }
    lines = {line.strip().lower() for line in requirements.splitlines()}
    pins = {line for line in lines if line and not line.startswith("#")}
    problems = [f"{d} is missing" for d in sorted(expected - pins)]
    problems += [
        f"{p} is not a runtime dependency"
        for p in sorted(pins - expected)
        if not p.startswith("tzdata==")
    ]
    problems += [f"{p} is not pinned with ==" for p in sorted(pins) if "==" not in p]
    return problems


def test_plan_monitors_requirements_follow_pyproject() -> None:
    text = PLAN_REQUIREMENTS.read_text()
    assert plan_requirements_problems(text) == []
    # The images install the same tzdata (layers/playwright/install.sh).
    install = (ROOT / "layers" / "playwright" / "install.sh").read_text()
    [version] = re.findall(r"^TZDATA_VERSION=(\S+)", install, re.M)
    assert f"tzdata=={version}" in text.splitlines()
    assert plan_requirements_problems(text.replace("redis==", "redis>="))
    assert plan_requirements_problems(text + "playwright==1.65.2\n")


def handler_defined(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def test_handlers_exist_where_the_template_and_images_say() -> None:
    assert handler_defined(ROOT / "functions" / "plan_monitors" / "app.py", "handler")
    assert handler_defined(ROOT / "functions" / "scrape" / "app.py", "handler")
    assert handler_defined(ROOT / "functions" / "monitor" / "main.py", "main")


def dockerfile_problems(scrape: str, monitor: str) -> list[str]:
    problems = []
    if not re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.12\b", scrape, re.M):
        problems.append("scrape: not on the Lambda Python 3.12 base image")
    if "PLAYWRIGHT_BROWSERS_PATH=" not in scrape or "install.sh browser" not in scrape:
        problems.append("scrape: the browser is not baked in")
    if "COPY functions/scrape/app.py ./app.py" not in scrape or 'CMD ["app.handler"]' not in scrape:
        problems.append("scrape: the handler is not app.handler")
    if not re.search(r"^FROM python:3\.12-slim\b", monitor, re.M):
        problems.append("monitor: not on python:3.12-slim")
    if "deps --no-browser" not in monitor or "playwright install" in monitor:
        problems.append("monitor: installs a browser")
    if not re.search(r"^USER (?!0\b|root\b)\S+", monitor, re.M):
        problems.append("monitor: runs as root")
    if "STOPSIGNAL SIGTERM" not in monitor or "/app/main.py" not in monitor:
        problems.append("monitor: not functions/monitor/main.py stopped by SIGTERM")
    return problems


def test_dockerfiles() -> None:
    scrape = (ROOT / "functions" / "scrape" / "Dockerfile").read_text()
    monitor = (ROOT / "functions" / "monitor" / "Dockerfile").read_text()
    assert dockerfile_problems(scrape, monitor) == []
    assert dockerfile_problems(scrape.replace("lambda/python:3.12", "lambda/python:3.11"), monitor)
    assert dockerfile_problems(scrape, monitor.replace("USER 10001:10001", "USER root"))
