#!/usr/bin/env bash
# The demo: moto on 127.0.0.1, then the cross-account example (registry 111111111111, function in
# 222222222222) planned and applied in its two phases, and the no-change re-plan. Everything it
# creates lives in moto and in .ferry-demo/ (git-ignored); moto is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup-env.sh
cargo build --quiet
ferry="$root/target/debug/ferry"
demo="$root/.ferry-demo"
. scripts/moto-env.sh
export FERRY_STATE="$demo/state"
cp -r examples/cross-account "$demo/declarations"
cd "$demo"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
say() { printf '\n%s### %s%s\n' "$bold" "$*" "$plain"; }

say "moto is listening on $AWS_ENDPOINT_URL; the execution role exists in the function's account"
admin role 222222222222 LambdaRole

say "phase 1: ferry apply of the repository alone (declarations/registry.toml)"
"$ferry" -c declarations/registry.toml apply --auto-approve

say "an image is pushed to the registry account (a small hand-made manifest)"
admin push 111111111111 cross-account-function 01 hello-v1

say "phase 2: ferry plan of both files: the policy before the function, the tag resolved to its digest"
"$ferry" -c declarations plan

say "ferry apply"
"$ferry" -c declarations apply --auto-approve

say "the repository policy, as ECR now holds it"
admin policy 111111111111 cross-account-function | "$py" -m json.tool

say "the function in 222222222222, deployed by digest"
admin functions 222222222222 | "$py" -m json.tool

say "a second plan: nothing to do (exit code 0 with --detailed-exitcode)"
"$ferry" -c declarations plan --detailed-exitcode

say "the state"
"$ferry" state list
echo
echo "Demo complete. Its state is in .ferry-demo/state; moto stops now."
