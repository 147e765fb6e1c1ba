#!/usr/bin/env bash
# The GitOps pipeline of examples/github-actions/, run by hand against moto: every "runner" is a
# fresh working directory with nothing but the declarations of its commit, and the state lives in
# S3 ([project.state] backend = "s3"). It shows that the state is shared (a fresh runner plans a
# no-op), that a saved plan made stale by another merge is refused, and that the lock holds (a
# second runner is refused naming the holder, or waits with --lock-timeout).
#
# FERRY_BIN names the binary (default: cargo build); everything lives in moto and in
# .ferry-pipeline-demo/ (git-ignored); moto is stopped on exit. Exits non-zero when any step
# does not do what it should.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup-env.sh
if [ -z "${FERRY_BIN:-}" ]; then
  cargo build --quiet
  FERRY_BIN="$root/target/debug/ferry"
fi
demo="${FERRY_DEMO_DIR:-$root/.ferry-pipeline-demo}"
. scripts/moto-env.sh
unset FERRY_STATE
export CI=true NO_COLOR=1

say() { printf '\n### %s\n' "$*"; }
fail() { printf 'pipeline-demo: FAILED: %s\n' "$*" >&2; exit 1; }

# The declarations of one commit: the registry, the state in S3, and the given function tables.
commit() {
  cat <<TOML
[project]
name = "pipeline"
default_region = "us-east-1"
assume_role = "arn:aws:iam::{account_id}:role/FerryDeployer"

[project.state]
backend = "s3"
bucket = "pipeline-ferry-state"
key = "pipeline/ferry.json"
account = "registry"

[accounts.registry]
id = "111111111111"

[accounts.prod]
id = "222222222222"

[registries.central]
account = "registry"

[repositories.hello]
registry = "central"
TOML
  for part in "$@"; do
    case $part in
      image) printf '\n[images.hello]\nrepository = "hello"\ntag = "01"\n' ;;
      api) printf '\n[functions.api]\naccount = "prod"\nimage = "hello"\nrole = "arn:aws:iam::222222222222:role/LambdaRole"\n' ;;
      worker) printf '\n[functions.worker]\naccount = "prod"\nimage = "hello"\nrole = "arn:aws:iam::222222222222:role/LambdaRole"\nmemory_mb = 256\n' ;;
      batch) printf '\n[functions.batch]\naccount = "prod"\nimage = "hello"\nrole = "arn:aws:iam::222222222222:role/BatchRole"\n' ;;
    esac
  done
}

# A fresh runner: an empty directory holding one commit's declarations, nothing else.
runner() {
  local dir="$demo/runners/$1"; shift
  mkdir -p "$dir"
  commit "$@" >"$dir/ferry.toml"
  printf '%s' "$dir"
}

# ferry in runner directory $1, expecting exit code $2; its output is kept in $dir/$3.{out,err}.
ferry_in() {
  local dir=$1 want=$2 name=$3; shift 3
  local code=0
  (cd "$dir" && "$FERRY_BIN" "$@" >"$name.out" 2>"$name.err") || code=$?
  cat "$dir/$name.out"
  sed 's/^/  (stderr) /' "$dir/$name.err" >&2
  [ "$code" = "$want" ] || fail "ferry $* in $dir exited $code, expected $want"
}

say "the state bucket in the registry account, the execution role in prod"
"$py" - <<'PY'
import os, boto3
url = os.environ["AWS_ENDPOINT_URL"]
c = boto3.client("sts", region_name="us-east-1", endpoint_url=url).assume_role(
    RoleArn="arn:aws:iam::111111111111:role/FerryAdmin", RoleSessionName="demo")["Credentials"]
boto3.client("s3", region_name="us-east-1", endpoint_url=url,
             aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
             aws_session_token=c["SessionToken"]).create_bucket(Bucket="pipeline-ferry-state")
PY
admin role 222222222222 LambdaRole >/dev/null

say "merge #1 (the repository): plan on the pull request, apply that saved plan on merge"
pr=$(runner pr1)
ferry_in "$pr" 2 plan plan --detailed-exitcode --out plan.bin --markdown >/dev/null
merge=$(runner merge1)
cp "$pr/plan.bin" "$merge/"
ferry_in "$merge" 0 apply apply --auto-approve --lock-timeout 60 plan.bin >/dev/null
admin push 111111111111 hello 01 v1 >/dev/null

say "pull requests #2 (function api) and #3 (function worker), each planned on its own runner"
pr2=$(runner pr2 image api)
ferry_in "$pr2" 2 plan plan --detailed-exitcode --out plan.bin --markdown
pr3=$(runner pr3 image worker)
ferry_in "$pr3" 2 plan plan --detailed-exitcode --out plan.bin --markdown >/dev/null

say "merge #2: its saved plan applies on a fresh runner"
m2=$(runner merge2 image api)
cp "$pr2/plan.bin" "$m2/"
ferry_in "$m2" 0 apply apply --auto-approve --lock-timeout 60 plan.bin

say "merge #3: its saved plan was made before merge #2 changed the state, and is refused"
m3=$(runner merge3 image worker)
cp "$pr3/plan.bin" "$m3/"
ferry_in "$m3" 1 apply apply --auto-approve --lock-timeout 60 plan.bin
grep -q "the state changed since the plan was saved" "$m3/apply.err" || fail "the stale plan was not refused as stale"

say "main (#2 and #3) is planned again and applied; a fresh runner then sees nothing to do"
main=$(runner main image api worker)
ferry_in "$main" 2 plan plan --detailed-exitcode --out plan.bin >/dev/null
ferry_in "$main" 0 apply apply --auto-approve --lock-timeout 60 plan.bin >/dev/null
fresh=$(runner fresh image api worker)
ferry_in "$fresh" 0 plan plan --detailed-exitcode
admin functions 222222222222 | "$py" -c 'import json,sys; f=json.load(sys.stdin); assert sorted(f)==["api","worker"], f; print("prod runs", sorted(f))'

say "merge #4 (function batch, whose role appears only later) holds the lock while it retries"
m4=$(runner merge4 image api worker batch)
(cd "$m4" && exec "$FERRY_BIN" apply --auto-approve -v --propagation-timeout 300 >apply.out 2>apply.err) &
apply_pid=$!
for _ in $(seq 1 600); do grep -q "retrying in" "$m4/apply.err" 2>/dev/null && break; sleep 0.1; done
grep -q "retrying in" "$m4/apply.err" || fail "merge #4's apply never reached its retries"
other=$(runner other image api worker batch)
ferry_in "$other" 1 plan plan
grep -q "is in use by another ferry process" "$other/plan.err" || fail "a second runner was not refused"
grep -q "pid $apply_pid" "$other/plan.err" || fail "the refusal does not name the holder"
say "another runner waits with --lock-timeout; the role appears; both finish"
waiter=$(runner waiter image api worker batch)
(cd "$waiter" && exec "$FERRY_BIN" plan --detailed-exitcode --lock-timeout 300 >plan.out 2>plan.err) &
wait_pid=$!
sleep 1
"$py" "$root/scripts/moto_admin.py" role 222222222222 BatchRole >/dev/null
wait "$apply_pid" || fail "merge #4's apply failed: $(cat "$m4/apply.err")"
code=0; wait "$wait_pid" || code=$?
[ "$code" = 0 ] || fail "the waiting runner's plan exited $code: $(cat "$waiter/plan.err")"
echo "the waiting runner planned after the lock was released, from merge #4's result: no changes"

echo
echo "Pipeline demo complete."
