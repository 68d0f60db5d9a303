#!/usr/bin/env bash
# make validate: the AWS side, checked offline with the pinned tools of .venv-tools (make tools).
#   cfn-lint template.yaml          CloudFormation/SAM schema and best-practice rules
#   sam validate --lint             the SAM CLI's own check (needs only a region name)
#   hadolint on both Dockerfiles    Dockerfile rules
#   the state machine definition    valid JSON before substitution
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_BIN=${TOOLS_BIN:-.venv-tools/bin}
for tool in cfn-lint sam hadolint; do
    if [ ! -x "$TOOLS_BIN/$tool" ]; then
        echo "validate: $TOOLS_BIN/$tool is missing; run 'make tools'" >&2
        exit 2
    fi
done

step() { printf '== %s\n' "$*"; }

step "cfn-lint template.yaml"
"$TOOLS_BIN/cfn-lint" template.yaml

step "sam validate --lint"
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0 \
    "$TOOLS_BIN/sam" validate --lint --template-file template.yaml

step "hadolint functions/scrape/Dockerfile functions/monitor/Dockerfile"
"$TOOLS_BIN/hadolint" functions/scrape/Dockerfile functions/monitor/Dockerfile

step "functions/statemachine/monitors.asl.json is JSON"
"$TOOLS_BIN/python" -m json.tool functions/statemachine/monitors.asl.json >/dev/null

echo "validate: clean"
