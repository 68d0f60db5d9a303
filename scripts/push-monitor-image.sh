#!/usr/bin/env bash
# make push-monitor-image [STACK=snuper-dev] [TAG=<git short sha>]: builds functions/monitor/Dockerfile
# (context = the repo root) and pushes it to the ECR repository the stack created, as :TAG and
# :latest. Needs Docker and AWS credentials for the stack's account and region. New monitor tasks
# use the image tagged MonitorImageTag (default latest).
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=${STACK:-snuper-dev}
TAG=${TAG:-$(git rev-parse --short HEAD 2>/dev/null || echo manual)}

for tool in aws docker; do
    command -v "$tool" >/dev/null || { echo "push-monitor-image: needs '$tool' on the PATH" >&2; exit 2; }
done

repo=$(aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='MonitorRepositoryUri'].OutputValue" --output text)
if [ -z "$repo" ] || [ "$repo" = "None" ]; then
    echo "push-monitor-image: stack $STACK has no MonitorRepositoryUri output (deployed yet?)" >&2
    exit 1
fi
registry=${repo%%/*}                   # <account>.dkr.ecr.<region>.amazonaws.com
region=$(cut -d. -f4 <<<"$registry")

aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker build --platform linux/amd64 -f functions/monitor/Dockerfile -t "$repo:$TAG" -t "$repo:latest" .
docker push "$repo:$TAG"
docker push "$repo:latest"
echo "pushed $repo:$TAG (and :latest); to pin this one, add MonitorImageTag=$TAG to parameter_overrides in samconfig.toml and sam deploy"
