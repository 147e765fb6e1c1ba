#!/usr/bin/env python3
"""Independent boto3 client for ferry's replication tests against moto: reads back (and, to
simulate someone else's work, writes) a registry's replication configuration and policy.

Usage: replication_admin.py COMMAND ACCOUNT [--region=R] [ARGS...]; AWS_ENDPOINT_URL must point
at moto. Output is JSON on stdout. Sessions come from scripts/moto_admin.py (FerryAdmin).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from moto_admin import client  # noqa: E402


def main(argv):
    cmd, account, args = argv[1], argv[2], argv[3:]
    region = os.environ.get("AWS_REGION", "us-east-1")
    if args and args[0].startswith("--region="):
        region = args.pop(0).split("=", 1)[1]
    ecr = client("ecr", account, region)
    if cmd == "replication":  # the registry's replication configuration
        out = ecr.describe_registry().get("replicationConfiguration", {"rules": []})
    elif cmd == "set-replication":  # set-replication JSON: a configuration ferry did not write
        out = ecr.put_replication_configuration(replicationConfiguration=json.loads(args[0]))[
            "replicationConfiguration"
        ]
    elif cmd == "registry-policy":  # the registry's policy, or null
        try:
            out = json.loads(ecr.get_registry_policy()["policyText"])
        except ecr.exceptions.RegistryPolicyNotFoundException:
            out = None
    elif cmd == "digest":  # digest REPO TAG: what the tag resolves to, or null
        r = ecr.batch_get_image(repositoryName=args[0], imageIds=[{"imageTag": args[1]}])
        out = r["images"][0]["imageId"]["imageDigest"] if r["images"] else None
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
