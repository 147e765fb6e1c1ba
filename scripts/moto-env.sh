# Sourced by demo.sh and pipeline-demo.sh (with $root and $demo set): starts moto on a free port
# of 127.0.0.1, logging to $demo/moto.log and stopped when the script exits, and points the AWS
# variables at it with empty config files, so only these variables count. Sets $py and admin().
py="$root/.venv/bin/python"
admin() { "$py" "$root/scripts/moto_admin.py" "$@"; }

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rm -rf "$demo" && mkdir -p "$demo"
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$demo/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_CONFIG_FILE="$demo/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$demo/no-aws-credentials"
: >"$AWS_CONFIG_FILE"; : >"$AWS_SHARED_CREDENTIALS_FILE"
unset AWS_PROFILE AWS_SESSION_TOKEN
