#!/bin/sh
# snuper's image layers, shared by both Dockerfiles (build context = the repo root; run from a
# folder holding pyproject.toml, README.md, requirements.lock and shared/). One step per Docker
# layer, so a code change rebuilds only the last one:
#
#   install.sh system              dnf: the libraries Chromium needs (Amazon Linux 2023, scrape image)
#   install.sh deps --browser      snuper's pinned dependencies, Playwright included (scrape image)
#   install.sh deps --no-browser   the same without Playwright (monitor image: no browser at all)
#   install.sh browser             Playwright's Chromium headless shell into $PLAYWRIGHT_BROWSERS_PATH,
#                                  linked at /opt/snuper/chromium (SNUPER_BROWSER_PATH)
#   install.sh project             the snuper package itself (shared/snuper), without dependencies
#
# `playwright install --with-deps` calls apt-get, which Amazon Linux does not have: the libraries
# come from dnf instead, and the browser is baked into the image (Lambda's /tmp starts empty).
set -eu

PYTHON=${PYTHON:-python3}
TZDATA_VERSION=2026.6  # zoneinfo's database where the base image has none (also in plan_monitors)
BROWSER_LINK=/opt/snuper/chromium

# Chromium's shared libraries on Amazon Linux 2023 (what `ldd chrome-headless-shell` asks for,
# plus fonts so pages that draw text do not crash).
CHROMIUM_LIBS="nss nspr atk at-spi2-atk at-spi2-core cups-libs libdrm libxkbcommon libXcomposite
libXdamage libXfixes libXrandr libXext libX11 libxcb mesa-libgbm pango cairo alsa-lib dbus-libs
expat fontconfig dejavu-sans-fonts tzdata"

die() {
    echo "install.sh: $*" >&2
    exit 1
}

pip_install() {
    "$PYTHON" -m pip install --no-cache-dir --disable-pip-version-check "$@"
}

system() {
    if command -v dnf >/dev/null 2>&1; then
        pm=dnf
    elif command -v microdnf >/dev/null 2>&1; then
        pm=microdnf
    else
        die "system: needs dnf or microdnf (the AWS Lambda Python 3.12 base image)"
    fi
    # shellcheck disable=SC2086  # the list is meant to split into package names
    "$pm" install -y $CHROMIUM_LIBS
    "$pm" clean all
    rm -rf /var/cache/dnf /var/cache/yum
}

deps() {
    case "${1:-}" in
        --browser | --no-browser) ;;
        *) die "deps: say --browser (scrape image) or --no-browser (monitor image)" ;;
    esac
    requirements=$(mktemp)
    # The runtime dependencies exactly as pyproject.toml pins them; requirements.lock pins
    # everything they pull in.
    "$PYTHON" - "$1" >"$requirements" <<'PY'
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
if sys.argv[1] == "--no-browser":
    deps = [d for d in deps if not d.lower().startswith("playwright")]
print("\n".join(deps))
PY
    echo "tzdata==$TZDATA_VERSION" >>"$requirements"
    pip_install --constraint requirements.lock --requirement "$requirements"
    rm -f "$requirements"
}

browser() {
    : "${PLAYWRIGHT_BROWSERS_PATH:?set PLAYWRIGHT_BROWSERS_PATH (the Dockerfile bakes /opt/ms-playwright)}"
    # The headless shell only: snuper always launches headless, and the full browser would add
    # ~200 MB to every cold start.
    "$PYTHON" -m playwright install --only-shell chromium
    shell=$("$PYTHON" - <<'PY'
import glob
import os
import sys

root = os.environ["PLAYWRIGHT_BROWSERS_PATH"]
found = glob.glob(os.path.join(root, "chromium_headless_shell-*", "*", "chrome-headless-shell"))
if len(found) != 1:
    sys.exit(f"expected one chrome-headless-shell under {root}, found {found}")
print(found[0])
PY
)
    mkdir -p "$(dirname "$BROWSER_LINK")"
    ln -sf "$shell" "$BROWSER_LINK"
    # Lambda runs the function as a user of its own, which must read and execute the browser.
    chmod -R a+rX "$PLAYWRIGHT_BROWSERS_PATH"
    # Smoke test: launch it as the Lambda handler will (a missing library fails the build here).
    "$PYTHON" - "$BROWSER_LINK" <<'PY' || die "browser: $BROWSER_LINK does not start (a library missing?)"
import sys

from playwright.sync_api import sync_playwright

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=sys.argv[1], args=["--no-sandbox", "--single-process", "--no-zygote"]
    )
    print("chromium", browser.version, "at", sys.argv[1])
    browser.close()
PY
}

project() {
    [ -f pyproject.toml ] && [ -d shared/snuper ] || die "project: run from the repo root copy"
    pip_install --no-deps .
    rm -rf build shared/*.egg-info
}

step=${1:-}
[ $# -gt 0 ] && shift
case "$step" in
    system) system ;;
    deps) deps "$@" ;;
    browser) browser ;;
    project) project ;;
    *) die "usage: install.sh system | deps --browser|--no-browser | browser | project" ;;
esac
