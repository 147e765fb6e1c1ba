#!/usr/bin/env python3
"""Independent boto3 client for ferry's demo and end-to-end tests against moto.

It does what ferry itself must not (push images, create execution roles, tamper with resources
to simulate drift) and reads resources back so tests can check ferry's work with a client that
shares no code with it. Every command acts inside one account: it assumes
arn:aws:iam::<account>:role/FerryAdmin, which moto maps to that account.

Usage: moto_admin.py COMMAND ACCOUNT [ARGS...]; AWS_ENDPOINT_URL must point at moto.
Output is JSON on stdout.
"""
import hashlib
import json
import os
import sys

import boto3

REGION_DEFAULT = os.environ.get("AWS_REGION", "us-east-1")


def session(account, region):
    sts = boto3.client("sts", region_name=region, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/FerryAdmin", RoleSessionName="moto-admin"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def client(service, account, region):
    return session(account, region).client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def manifest(content):
    """A small hand-made Docker v2 image manifest whose layer digest depends on `content`."""
    layer = hashlib.sha256(content.encode()).hexdigest()
    config = hashlib.sha256(("config:" + content).encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1000,
                "digest": f"sha256:{config}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2000,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, account, args = argv[1], argv[2], argv[3:]
    region = REGION_DEFAULT
    if args and args[0].startswith("--region="):
        region = args.pop(0).split("=", 1)[1]
    out = None
    if cmd == "role":  # role NAME: a Lambda execution role
        iam = client("iam", account, region)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            out = iam.create_role(RoleName=args[0], AssumeRolePolicyDocument=json.dumps(trust))[
                "Role"
            ]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            out = f"arn:aws:iam::{account}:role/{args[0]}"
    elif cmd == "push":  # push REPO TAG [CONTENT]: prints the digest
        ecr = client("ecr", account, region)
        content = args[2] if len(args) > 2 else args[1]
        r = ecr.put_image(repositoryName=args[0], imageManifest=manifest(content), imageTag=args[1])
        out = r["image"]["imageId"]["imageDigest"]
    elif cmd == "policy":  # policy REPO: the policy JSON, or null
        ecr = client("ecr", account, region)
        try:
            out = json.loads(ecr.get_repository_policy(repositoryName=args[0])["policyText"])
        except ecr.exceptions.RepositoryPolicyNotFoundException:
            out = None
        except ecr.exceptions.RepositoryNotFoundException:
            out = None
    elif cmd == "set-policy":  # set-policy REPO JSON
        ecr = client("ecr", account, region)
        ecr.set_repository_policy(repositoryName=args[0], policyText=args[1])
        out = "ok"
    elif cmd == "repos":  # repos: names of repositories with settings and tags
        ecr = client("ecr", account, region)
        out = {}
        for r in ecr.describe_repositories()["repositories"]:
            tags = ecr.list_tags_for_resource(resourceArn=r["repositoryArn"])["tags"]
            out[r["repositoryName"]] = {
                "imageTagMutability": r["imageTagMutability"],
                "scanOnPush": r["imageScanningConfiguration"]["scanOnPush"],
                "tags": {t["Key"]: t["Value"] for t in tags},
            }
    elif cmd == "delete-image":  # delete-image REPO DIGEST: an image expired outside ferry
        ecr = client("ecr", account, region)
        r = ecr.batch_delete_image(repositoryName=args[0], imageIds=[{"imageDigest": args[1]}])
        out = "ok" if r["imageIds"] else r["failures"]
    elif cmd == "create-repo":  # create-repo NAME: an unmanaged repository
        ecr = client("ecr", account, region)
        ecr.create_repository(repositoryName=args[0])
        out = "ok"
    elif cmd == "delete-repo":  # delete-repo NAME: a deletion made outside ferry (images too)
        ecr = client("ecr", account, region)
        ecr.delete_repository(repositoryName=args[0], force=True)
        out = "ok"
    elif cmd == "functions":  # functions: every function with image URI, config and tags
        lam = client("lambda", account, region)
        out = {}
        for f in lam.list_functions()["Functions"]:
            g = lam.get_function(FunctionName=f["FunctionName"])
            c = g["Configuration"]
            out[f["FunctionName"]] = {
                "ImageUri": g.get("Code", {}).get("ImageUri"),
                "Role": c["Role"],
                "MemorySize": c["MemorySize"],
                "Timeout": c["Timeout"],
                "Architectures": c.get("Architectures"),
                "Environment": c.get("Environment", {}).get("Variables", {}),
                "Description": c.get("Description", ""),
                "Tags": g.get("Tags", {}),
            }
    elif cmd == "set-memory":  # set-memory FUNCTION MB: a change made outside ferry
        lam = client("lambda", account, region)
        lam.update_function_configuration(FunctionName=args[0], MemorySize=int(args[1]))
        out = "ok"
    elif cmd == "create-function":  # create-function NAME IMAGE_URI ROLE: an unmanaged function
        lam = client("lambda", account, region)
        lam.create_function(
            FunctionName=args[0],
            PackageType="Image",
            Code={"ImageUri": args[1]},
            Role=args[2],
        )
        out = "ok"
    elif cmd == "delete-function":  # delete-function NAME: a deletion made outside ferry
        lam = client("lambda", account, region)
        lam.delete_function(FunctionName=args[0])
        out = "ok"
    elif cmd == "org-create":  # org-create: an organization managed by ACCOUNT; prints its root
        org = client("organizations", account, region)
        org.create_organization(FeatureSet="ALL")
        out = org.list_roots()["Roots"][0]["Id"]
    elif cmd == "org-ou":  # org-ou PARENT NAME: a new OU beneath PARENT; prints its id
        org = client("organizations", account, region)
        out = org.create_organizational_unit(ParentId=args[0], Name=args[1])[
            "OrganizationalUnit"
        ]["Id"]
    elif cmd == "org-account":  # org-account PARENT NAME: a new member account in PARENT
        org = client("organizations", account, region)
        r = org.create_account(Email=f"{args[1]}@example.com", AccountName=args[1])
        out = r["CreateAccountStatus"]["AccountId"]
        root = org.list_roots()["Roots"][0]["Id"]
        if args[0] != root:
            org.move_account(AccountId=out, SourceParentId=root, DestinationParentId=args[0])
    elif cmd == "org-parent":  # org-parent ID: the OU (or root) an account is in
        org = client("organizations", account, region)
        out = org.list_parents(ChildId=args[0])["Parents"][0]["Id"]
    elif cmd == "org-move":  # org-move ID FROM TO: an account moved between OUs
        org = client("organizations", account, region)
        org.move_account(AccountId=args[0], SourceParentId=args[1], DestinationParentId=args[2])
        out = "ok"
    else:
        print(f"unknown command {cmd}\n{__doc__}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
