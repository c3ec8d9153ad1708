"""Sets up the tests' S3 server (moto, on 127.0.0.1) the way a clinic's
bucket would be: IAM users with the permissions their jobs have, buckets
with or without object lock, objects put, listed and damaged. Run with the
python of target/tools/moto (tests/run installs it; boto3 comes with moto).

    setup.py users    --endpoint URL --out DIR
    setup.py bucket   --endpoint URL --creds FILE NAME --mode {locked,versioned,plain}
                      [--days N] [--governance]
    setup.py put      --endpoint URL --creds FILE BUCKET KEY FILE
    setup.py list     --endpoint URL --creds FILE BUCKET [PREFIX]
    setup.py truncate --endpoint URL --creds FILE BUCKET KEY BYTES
    setup.py serve    -H 127.0.0.1 -p PORT

`serve` runs moto's server (what moto_server runs) with two fixes that make
it answer as S3 does (see serve() below); the tests start it this way.

`users` must be the first thing done to a fresh server started with
INITIAL_NO_AUTH_ACTION_COUNT=3: moto answers that many requests without
checking their signature, then enforces IAM, so the admin user, its policy
and its access key take exactly those three, and everything after is signed
with admin's key. It writes DIR/USER.credentials, AWS shared-credentials
files of mode 0600, for admin, drill, production and writer.

`list` prints `key<TAB>size<TAB>lock mode` (`-` without one), a line an
object. Success prints nothing else; an error is one line on stderr, exit 1.
"""

import argparse
import configparser
import json
import os
import sys

# Only what the command line says: no profile, configuration or proxy of
# the user running the tests.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import boto3  # noqa: E402
import boto3.exceptions  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

REGION = "us-east-1"

# The users and the actions of their inline policies.
READ_ONLY = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetBucketVersioning",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetObjectRetention",
    "s3:GetBucketLocation",
]
# What a clinic server's backup job has: it writes, prunes old backups and
# so could delete or shorten the retention of what it wrote, were the
# bucket not locked.
BACKUP_JOB = [
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutObjectRetention",
    "s3:GetBucketVersioning",
    "s3:GetBucketObjectLockConfiguration",
]
USERS = {
    "drill": READ_ONLY,
    "production": BACKUP_JOB,
    # A separate identity with the same rights, for `backup --out`.
    "writer": BACKUP_JOB,
}

# Any key will do for the unauthenticated first requests, but boto3 signs
# every request and so needs one.
PLACEHOLDER = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


class Failed(Exception):
    pass


def client(service, endpoint, keys):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        # A retried request would count against moto's unauthenticated ones.
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def read_creds(path):
    parser = configparser.ConfigParser()
    try:
        if not parser.read(path):
            raise Failed(f"cannot read credentials file {path}")
    except configparser.Error as e:
        raise Failed(f"{path}: {e}") from None
    try:
        section = parser["default"]
        return section["aws_access_key_id"], section["aws_secret_access_key"]
    except KeyError as e:
        raise Failed(f"{path}: no {e} in [default]") from None


def write_creds(path, keys):
    text = f"[default]\naws_access_key_id = {keys[0]}\naws_secret_access_key = {keys[1]}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        # O_CREAT's mode is not applied to a file that already existed.
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def make_user(iam, name, actions):
    """Three IAM requests: the user, its inline policy, its access key."""
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def users(args):
    os.makedirs(args.out, exist_ok=True)
    admin = make_user(client("iam", args.endpoint, PLACEHOLDER), "admin", "*")
    write_creds(os.path.join(args.out, "admin.credentials"), admin)
    iam = client("iam", args.endpoint, admin)
    for name, actions in USERS.items():
        keys = make_user(iam, name, actions)
        write_creds(os.path.join(args.out, f"{name}.credentials"), keys)


def bucket(args):
    s3 = client("s3", args.endpoint, read_creds(args.creds))
    if args.mode == "locked":
        s3.create_bucket(Bucket=args.name, ObjectLockEnabledForBucket=True)
        mode = "GOVERNANCE" if args.governance else "COMPLIANCE"
        s3.put_object_lock_configuration(
            Bucket=args.name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": mode, "Days": args.days}},
            },
        )
    elif args.mode == "versioned":
        s3.create_bucket(Bucket=args.name)
        s3.put_bucket_versioning(
            Bucket=args.name, VersioningConfiguration={"Status": "Enabled"}
        )
    else:
        s3.create_bucket(Bucket=args.name)


def put(args):
    s3 = client("s3", args.endpoint, read_creds(args.creds))
    if not os.path.isfile(args.file):
        raise Failed(f"no such file: {args.file}")
    # Multipart above boto3's threshold (8 MiB), as a backup job's would be.
    s3.upload_file(args.file, args.bucket, args.key)


def list_objects(args):
    s3 = client("s3", args.endpoint, read_creds(args.creds))
    lines = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=args.bucket, Prefix=args.prefix
    )
    for page in pages:
        for obj in page.get("Contents", []):
            head = s3.head_object(Bucket=args.bucket, Key=obj["Key"])
            mode = head.get("ObjectLockMode") or "-"
            lines.append(f"{obj['Key']}\t{obj['Size']}\t{mode}")
    for line in lines:
        print(line)


def truncate(args):
    s3 = client("s3", args.endpoint, read_creds(args.creds))
    if args.bytes < 0:
        raise Failed("BYTES must not be negative")
    if args.bytes == 0:
        s3.head_object(Bucket=args.bucket, Key=args.key)
        body = b""
    else:
        got = s3.get_object(Bucket=args.bucket, Key=args.key, Range=f"bytes=0-{args.bytes - 1}")
        body = got["Body"].read()
    # On a versioned or locked bucket this is a new version, the old one kept.
    s3.put_object(Bucket=args.bucket, Key=args.key, Body=body)


def serve(args):
    """moto_server, mended where moto 5.1.22 answers otherwise than S3:

    - With IAM enforced, moto checks a signature against the query string
      as its web framework re-encodes it, with `/` left bare, while every
      SigV4 client signs it as `%2F`: a listing with a prefix such as
      `clinic/` was refused with SignatureDoesNotMatch. The query is
      canonicalised here from the request as sent, the way S3 does.
    - A multipart upload into a bucket with a default retention was stored
      unlocked (moto applies the default in PutObject only); S3 locks it
      like any other new object.
    """
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    import flask
    from moto import server
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.models import S3Backend

    def canonical_query(raw):
        pairs = []
        for pair in raw.split("&") if raw else []:
            key, _, value = pair.partition("=")
            pairs.append(
                quote(unquote(key), safe="-_.~") + "=" + quote(unquote(value), safe="-_.~")
            )
        return "&".join(pairs)

    authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_as_sent(self, iam_request_cls, resource="*"):
        if not flask.has_request_context():
            return authenticate(self, iam_request_cls, resource)
        uri = self.uri
        raw = flask.request.environ.get("QUERY_STRING", "")
        self.uri = urlunsplit(urlsplit(uri)._replace(query=canonical_query(raw)))
        try:
            return authenticate(self, iam_request_cls, resource)
        finally:
            self.uri = uri

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_as_sent

    complete = S3Backend.complete_multipart_upload

    def complete_locked(self, bucket_name, multipart_id, body):
        key = complete(self, bucket_name, multipart_id, body)
        bucket = self.get_bucket(bucket_name)
        if key is not None and not key.lock_mode and bucket.has_default_lock:
            key.lock_mode = bucket.default_lock_mode
            key.lock_until = bucket.default_retention()
        return key

    S3Backend.complete_multipart_upload = complete_locked

    server.main(["-H", args.host, "-p", str(args.port)])


class Parser(argparse.ArgumentParser):
    """A usage error is one line and exit 1, like any other error."""

    def error(self, message):
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(1)


def parser():
    p = Parser(prog="setup.py", description="Sets up the tests' S3 server (moto).")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, func, creds=True):
        c = sub.add_parser(name)
        c.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
        if creds:
            c.add_argument("--creds", required=True, help="an AWS shared-credentials file")
        c.set_defaults(func=func)
        return c

    c = command("users", users, creds=False)
    c.add_argument("--out", required=True, help="folder for USER.credentials")

    c = command("bucket", bucket)
    c.add_argument("name")
    c.add_argument("--mode", required=True, choices=["locked", "versioned", "plain"])
    c.add_argument("--days", type=int, default=30, help="default retention (locked)")
    c.add_argument("--governance", action="store_true", help="GOVERNANCE, not COMPLIANCE")

    c = command("put", put)
    c.add_argument("bucket")
    c.add_argument("key")
    c.add_argument("file")

    c = command("list", list_objects)
    c.add_argument("bucket")
    c.add_argument("prefix", nargs="?", default="")

    c = command("truncate", truncate)
    c.add_argument("bucket")
    c.add_argument("key")
    c.add_argument("bytes", type=int)

    c = sub.add_parser("serve")
    c.add_argument("-H", "--host", default="127.0.0.1")
    c.add_argument("-p", "--port", type=int, required=True)
    c.set_defaults(func=serve)
    return p


def main():
    args = parser().parse_args()
    try:
        args.func(args)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        print(
            f"setup.py {args.command}: {err.get('Code', '?')}: {err.get('Message', e)}",
            file=sys.stderr,
        )
        sys.exit(1)
    except (Failed, botocore.exceptions.BotoCoreError, boto3.exceptions.Boto3Error, OSError) as e:
        message = " ".join(str(e).split())
        print(f"setup.py {args.command}: {message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
