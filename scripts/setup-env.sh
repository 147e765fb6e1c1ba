#!/usr/bin/env bash
# Creates the git-ignored Python venv the demo and the end-to-end tests use: moto's server (pinned, so
# a new moto release cannot turn CI red overnight) and boto3 as the independent client for checks.
# jsonschema validates `ferry plan --json` against docs/plan.schema.json in the tests.
# Idempotent: a venv that already has the pinned moto is left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv="$here/.venv"
MOTO_VERSION="5.2.5"
BOTO3_SPEC="boto3==1.44.8"
JSONSCHEMA_VERSION="4.26.0"
PY=${PYTHON:-python3}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import moto, jsonschema, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null; then
  exit 0
fi
echo "setting up $venv (moto[server]==$MOTO_VERSION)" >&2
"$PY" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "$BOTO3_SPEC" "jsonschema==$JSONSCHEMA_VERSION" >&2
