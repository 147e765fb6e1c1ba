#!/usr/bin/env python3
"""boto3 against moto's S3 for tests/state_s3.rs, inside one account (as moto_admin.py does).

Usage: s3_admin.py COMMAND ACCOUNT BUCKET [KEY [BODY]]; prints JSON.
  bucket   create BUCKET
  get      the object KEY: {"body": text, "etag": etag} or null
  put      write BODY at KEY unconditionally; prints its ETag
  keys     every key of BUCKET
"""
import json
import os
import sys

import boto3


def client(account):
    url = os.environ["AWS_ENDPOINT_URL"]
    creds = boto3.client("sts", region_name="us-east-1", endpoint_url=url).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/FerryAdmin", RoleSessionName="s3-admin"
    )["Credentials"]
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def main():
    command, account, bucket = sys.argv[1:4]
    s3 = client(account)
    if command == "bucket":
        s3.create_bucket(Bucket=bucket)
        print(json.dumps(bucket))
    elif command == "get":
        try:
            o = s3.get_object(Bucket=bucket, Key=sys.argv[4])
        except s3.exceptions.NoSuchKey:
            print("null")
            return
        body = o["Body"].read()
        print(json.dumps({"body": body.decode("latin-1"), "etag": o["ETag"], "size": len(body)}))
    elif command == "put":
        o = s3.put_object(Bucket=bucket, Key=sys.argv[4], Body=sys.argv[5].encode())
        print(json.dumps(o["ETag"]))
    elif command == "keys":
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        print(json.dumps(sorted(o["Key"] for o in listed)))
    elif command == "delete-all":
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        for o in listed:
            s3.delete_object(Bucket=bucket, Key=o["Key"])
        print(json.dumps(sorted(o["Key"] for o in listed)))
    else:
        sys.exit(f"unknown command {command}")


main()
