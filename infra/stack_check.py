"""Checks that template.yaml, the functions' environment and their code agree.

Deploys the template's stateful resources (its S3 buckets and DynamoDB table, exactly as
defined there) to moto through moto's CloudFormation API, checks that what was created has
the properties the template asks for, then runs each function's real binary with the
environment the template gives that function (Globals merged with its own variables,
resolved against the deployed stack) and nothing else from this machine, behind a local
Lambda Runtime API, and sends it the events it gets on AWS: API Gateway HTTP API (v2)
requests for intake and admin, a DynamoDB stream batch for publish, a scheduler event for
close, an S3 ObjectCreated event for email-intake. The functions read and write only the
resources the template created.

    .venv/bin/python infra/stack_check.py --bin-dir target/debug

Exits non-zero on the first disagreement; prints "N passed, N failed" at the end.
Needs moto (tests/run installs it into .venv).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
STACK = "verbatim-check"
MAIL_DOMAIN = "consultations.example.org"
STATEFUL_TYPES = {"AWS::S3::Bucket", "AWS::DynamoDB::Table"}
# Resources a function names in its environment that this check does not deploy; their
# stand-in values are what CloudFormation would give (an ARN, a domain name).
CLOUDFRONT_DOMAIN = "d111111abcdef8.cloudfront.net"


# ---------------------------------------------------------------------------
# Reading the template (CloudFormation's short-form tags)
# ---------------------------------------------------------------------------
class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: CfnLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=CfnLoader)


# ---------------------------------------------------------------------------
# Resolving intrinsic functions against the deployed stack
# ---------------------------------------------------------------------------
class Resolver:
    def __init__(self, template: dict, parameters: dict, physical: dict):
        self.template = template
        self.parameters = parameters
        self.physical = physical
        self.pseudo = {
            "AWS::StackName": STACK,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> str:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        resource = self.template["Resources"].get(name)
        if resource is None:
            raise KeyError(f"Ref to unknown {name}")
        props = resource.get("Properties", {})
        for key in ("Name", "FunctionName", "RuleSetName", "TableName", "BucketName"):
            if key in props:
                return self.resolve(props[key])
        raise KeyError(f"Ref to {name}, which this check does not deploy and cannot name")

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.template["Resources"][name]
        kind = resource["Type"]
        if attribute == "Arn":
            if kind == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{self.ref(name)}"
            if kind == "AWS::DynamoDB::Table":
                return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.ref(name)}"
            if kind == "AWS::IAM::Role":
                return f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{name}"
        if kind == "AWS::CloudFront::Distribution" and attribute == "DomainName":
            return CLOUDFRONT_DOMAIN
        raise KeyError(f"GetAtt {name}.{attribute} is not known to this check")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, value):
        if isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            raise TypeError(value)
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                text, names = (arg, {}) if isinstance(arg, str) else arg
                def sub(match):
                    token = match.group(1)
                    if token in names:
                        return str(self.resolve(names[token]))
                    if "." in token and token not in self.pseudo:
                        return str(self.get_att(*token.split(".", 1)))
                    return str(self.ref(token))
                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


# `!Ref AWS::NoValue`: the property it is the value of is left out.
NO_VALUE = object()


def function_environment(template: dict, logical_id: str, resolver: Resolver) -> dict:
    """The variables the template gives a function: Globals, then its own (SAM merges them)."""
    variables = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    own = template["Resources"][logical_id]["Properties"].get("Environment", {})
    variables.update(own.get("Variables", {}))
    return {name: str(resolver.resolve(value)) for name, value in variables.items()}


# ---------------------------------------------------------------------------
# Deploying the stateful resources
# ---------------------------------------------------------------------------
def stateful_template(template: dict) -> dict:
    """The template's buckets and table, as defined there, in a stack of their own."""
    resources = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] in STATEFUL_TYPES:
            resource = json.loads(json.dumps(resource))
            depends = resource.pop("DependsOn", None)
            # Ordering only (bucket policies are not part of this stack).
            assert depends is None or all(
                template["Resources"][d]["Type"] == "AWS::S3::BucketPolicy"
                for d in ([depends] if isinstance(depends, str) else depends)
            ), depends
            resources[name] = resource
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": template["Parameters"],
        "Conditions": template.get("Conditions", {}),
        "Resources": resources,
    }


def lifecycle_rule(rule: dict) -> dict:
    """A rule of AWS::S3::Bucket LifecycleConfiguration, as the S3 API spells it."""
    api = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return api


def complete_and_verify(clients, template: dict, resolver: Resolver, physical: dict, check):
    """moto's CloudFormation creates buckets and tables with only some of their properties
    (names, encryption, key schema, stream, deletion protection); apply the rest from the
    same definitions through the service APIs, then read every property back."""
    s3, dynamodb = clients["s3"], clients["dynamodb"]
    for name, resource in template["Resources"].items():
        if name not in physical:
            continue
        props = resolver.resolve(resource.get("Properties", {}))
        real = physical[name]
        if resource["Type"] == "AWS::S3::Bucket":
            if "VersioningConfiguration" in props:
                s3.put_bucket_versioning(
                    Bucket=real, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]}
                )
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=real, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            if "OwnershipControls" in props:
                s3.put_bucket_ownership_controls(Bucket=real, OwnershipControls=props["OwnershipControls"])
            if "ObjectLockConfiguration" in props:
                lock = props["ObjectLockConfiguration"]
                retention = lock["Rule"]["DefaultRetention"]
                s3.put_object_lock_configuration(
                    Bucket=real,
                    ObjectLockConfiguration={
                        "ObjectLockEnabled": lock["ObjectLockEnabled"],
                        "Rule": {"DefaultRetention": {"Mode": retention["Mode"], "Days": int(retention["Days"])}},
                    },
                )
            if "LifecycleConfiguration" in props:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=real,
                    LifecycleConfiguration={"Rules": [lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]},
                )
            encryption = s3.get_bucket_encryption(Bucket=real)["ServerSideEncryptionConfiguration"]["Rules"][0]
            wanted = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            check(
                f"{name}: encryption {wanted['ServerSideEncryptionByDefault']['SSEAlgorithm']}",
                encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                == wanted["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            )
            check(
                f"{name}: versioning {props['VersioningConfiguration']['Status']}",
                s3.get_bucket_versioning(Bucket=real).get("Status") == props["VersioningConfiguration"]["Status"],
            )
            block = s3.get_public_access_block(Bucket=real)["PublicAccessBlockConfiguration"]
            check(f"{name}: public access blocked", all(block.values()) and len(block) == 4)
            if "ObjectLockConfiguration" in props:
                lock = s3.get_object_lock_configuration(Bucket=real)["ObjectLockConfiguration"]
                retention = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
                got = lock.get("Rule", {}).get("DefaultRetention", {})
                check(
                    f"{name}: Object Lock {retention['Mode']} {retention['Days']} days",
                    lock["ObjectLockEnabled"] == "Enabled"
                    and got.get("Mode") == retention["Mode"]
                    and int(got.get("Days", -1)) == int(retention["Days"]),
                    str(lock),
                )
        elif resource["Type"] == "AWS::DynamoDB::Table":
            pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False)
            dynamodb.update_continuous_backups(
                TableName=real, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(pitr)}
            )
            table = dynamodb.describe_table(TableName=real)["Table"]
            check(
                f"{name}: key schema {[k['AttributeName'] for k in props['KeySchema']]}",
                table["KeySchema"] == props["KeySchema"],
            )
            check(f"{name}: on demand", table["BillingModeSummary"]["BillingMode"] == props["BillingMode"])
            check(
                f"{name}: stream {props['StreamSpecification']['StreamViewType']}",
                table.get("StreamSpecification", {}).get("StreamViewType") == props["StreamSpecification"]["StreamViewType"],
            )
            check(f"{name}: deletion protection", table.get("DeletionProtectionEnabled") is True)
            backups = dynamodb.describe_continuous_backups(TableName=real)["ContinuousBackupsDescription"]
            check(
                f"{name}: point-in-time recovery",
                backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED",
            )


# ---------------------------------------------------------------------------
# A local Lambda Runtime API, one per function process
# ---------------------------------------------------------------------------
class Invocation:
    def __init__(self, event: dict):
        self.id = str(uuid.uuid4())
        self.event = event
        self.done = threading.Event()
        self.result = None
        self.error = None


class RuntimeApi:
    """Just enough of https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html for
    the Rust runtime: next invocation, its response or error, and init errors."""

    def __init__(self, function_arn: str):
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.by_id: dict[str, Invocation] = {}
        self.init_error = None
        # When the process first asked for an invocation: its initialization was done.
        self.first_poll: float | None = None
        self.polled = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                if api.first_poll is None:
                    api.first_poll = time.monotonic()
                    api.polled.set()
                invocation = api.pending.get()
                body = json.dumps(invocation.event).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Transfer-Encoding") == "chunked":
                    body = read_chunked(self.rfile)
                parts = self.path.split("/")
                if self.path == "/2018-06-01/runtime/init/error":
                    api.init_error = body.decode(errors="replace")
                elif len(parts) == 6 and parts[3] == "invocation":
                    invocation = api.by_id[parts[4]]
                    if parts[5] == "response":
                        invocation.result = body
                    else:
                        invocation.error = body.decode(errors="replace")
                    invocation.done.set()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def read_chunked(stream) -> bytes:
    body = b""
    while True:
        size = int(stream.readline().strip(), 16)
        if size == 0:
            stream.readline()
            return body
        body += stream.read(size)
        stream.readline()


class Function:
    """A function binary running as Lambda runs it: its environment only, the runtime API."""

    def __init__(self, logical_id: str, binary: Path, env: dict, endpoint: str):
        self.logical_id = logical_id
        self.name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.api = RuntimeApi(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}")
        env = dict(env)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": self.api.address,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_SESSION_TOKEN": "test",
                # Not on Lambda: points the SDK at the emulator.
                "AWS_ENDPOINT_URL": endpoint,
                "PATH": "/usr/bin:/bin",
            }
        )
        self.log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"stack-check-{self.name}.log", "w+b")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )

    def time_to_first_poll(self, timeout: float = 30) -> float:
        """Seconds from starting the process to its first request for an invocation."""
        if not self.api.polled.wait(timeout):
            raise AssertionError(
                f"{self.logical_id} never polled (exit {self.process.poll()}, init error "
                f"{self.api.init_error}):\n{self.output()}"
            )
        return self.api.first_poll - self.started

    def invoke(self, event: dict, timeout: float = 60):
        invocation = Invocation(event)
        self.api.by_id[invocation.id] = invocation
        self.api.pending.put(invocation)
        deadline = time.time() + timeout
        while not invocation.done.wait(0.1):
            if self.process.poll() is not None or time.time() > deadline:
                raise AssertionError(
                    f"{self.logical_id} did not answer (exit {self.process.poll()}, init error "
                    f"{self.api.init_error}):\n{self.output()}"
                )
        if invocation.error is not None:
            raise AssertionError(f"{self.logical_id} failed: {invocation.error}\n{self.output()}")
        return json.loads(invocation.result) if invocation.result else None

    def log_lines(self) -> list:
        """Every line the function has written so far."""
        self.log.flush()
        self.log.seek(0)
        return [line for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.api.server.shutdown()
        self.log.close()


def http_event(method: str, path: str, headers: dict | None = None, body: str | None = None, iam: bool = False):
    """An API Gateway HTTP API (payload 2.0) request as Lambda receives it."""
    now = time.time()
    context = {
        "accountId": ACCOUNT,
        "apiId": "checkapi",
        "domainName": f"checkapi.execute-api.{REGION}.amazonaws.com",
        "domainPrefix": "checkapi",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": "stack-check"},
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if iam:
        # What API Gateway adds once it has checked the SigV4 signature (AWS_IAM auth).
        context["authorizer"] = {
            "iam": {
                "accessKey": "AKIAIOSFODNN7EXAMPLE",
                "accountId": ACCOUNT,
                "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{ACCOUNT}:user/secretariat",
                "userId": "AIDACKCEVSQ6C2EXAMPLE",
                "cognitoIdentity": None,
            }
        }
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    headers.setdefault("host", context["domainName"])
    event = {
        "version": "2.0",
        "routeKey": context["routeKey"],
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


def stream_event(table_arn: str, keys: list[tuple[str, str]]):
    """A DynamoDB stream batch (keys only), as the event source mapping delivers it."""
    return {
        "Records": [
            {
                "eventID": str(i),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "eventSourceARN": f"{table_arn}/stream/2026-11-28T00:00:00.000",
                "dynamodb": {
                    "ApproximateCreationDateTime": time.time(),
                    "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "SequenceNumber": str(100 + i),
                    "SizeBytes": 40,
                    "StreamViewType": "KEYS_ONLY",
                },
            }
            for i, (pk, sk) in enumerate(keys)
        ]
    }


def s3_event(bucket: str, key: str, size: int):
    """An S3 ObjectCreated notification, as the bucket's event configuration sends it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:ses"},
                "requestParameters": {"sourceIPAddress": "192.0.2.20"},
                "responseElements": {"x-amz-request-id": "1", "x-amz-id-2": "1"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "InboundMail",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A"}, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": size, "eTag": "0", "sequencer": "0"},
                },
            }
        ]
    }


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------
# The functions, by logical id, and their binaries (cargo's names). email-intake is checked
# when its crate is in the workspace.
BINARIES = {
    "AdminFunction": "verbatim-admin",
    "IntakeFunction": "verbatim-intake",
    "PublishFunction": "verbatim-publish",
    "CloseFunction": "verbatim-close",
    "EmailIntakeFunction": "verbatim-email-intake",
}
# The receipt signing key stored in SSM before deploying (see docs/deploy.md, "The signing key"),
# made the way an operator makes it: `verbatim keygen` (a signed-note private key).
def function_binary(bin_dir: Path, logical_id: str) -> Path:
    """A function's binary: `bin_dir/<name>` as cargo builds it, or `bin_dir/<name>/bootstrap`
    as cargo lambda (and Lambda) has it."""
    name = BINARIES[logical_id]
    bootstrap = bin_dir / name / "bootstrap"
    return bootstrap if bootstrap.is_file() else bin_dir / name


def measure_cold_starts(bin_dir: Path, environments: dict, endpoint: str, runs: int):
    """Time from process start to the first poll for an event, `runs` times a function, each a
    fresh process with the template's environment (so initialization includes what it does on
    Lambda: reading configuration, loading the signing key from SSM, here on moto). The floor,
    measured the same way in the same run: curl, a process that starts and makes the same
    request and nothing else."""
    def summary(label: str, binary: Path | None, seconds: list) -> None:
        ms = sorted(1000 * s for s in seconds)
        size = f"{binary.stat().st_size / 1048576:6.1f} MiB" if binary else "       -  "
        print(
            f"COLD {label:<24} {size}  first poll: median {ms[len(ms) // 2]:6.1f} ms"
            f"  (min {ms[0]:.1f}, max {ms[-1]:.1f}, {len(ms)} runs)",
            flush=True,
        )

    floor = []
    for _ in range(runs):
        api = RuntimeApi("arn:aws:lambda:floor")
        started = time.monotonic()
        curl = subprocess.Popen(
            ["curl", "-s", "-o", "/dev/null", "-m", "5", f"http://{api.address}/2018-06-01/runtime/invocation/next"],
            stdin=subprocess.DEVNULL,
        )
        if not api.polled.wait(30):
            raise AssertionError("curl never polled")
        floor.append(api.first_poll - started)
        curl.kill()
        curl.wait()
        api.server.shutdown()
    summary("floor (curl)", None, floor)
    for logical_id in BINARIES:
        binary = function_binary(bin_dir, logical_id)
        seconds = []
        for _ in range(runs):
            function = Function(logical_id, binary, environments[logical_id], endpoint)
            try:
                seconds.append(function.time_to_first_poll())
            finally:
                function.stop()
        summary(BINARIES[logical_id], binary, seconds)


def signing_key(cli: Path) -> str:
    out = subprocess.run(
        [str(cli), "keygen", "--name", "stack-check.example.org"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.splitlines()[0].strip()
CONSULTATION = "stack-check"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, what: str, ok: bool, detail: str = ""):
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what} {detail}")
            raise AssertionError(what)



# ---------------------------------------------------------------------------
# The stream's event filter (Lambda event filtering, the subset the template uses)
# ---------------------------------------------------------------------------
def filter_matches(pattern, value) -> bool:
    """Whether `value` (a stream record, or part of one) matches a Lambda filter `pattern`:
    objects match key by key, lists are alternatives (a literal, `prefix`, `anything-but`)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and filter_matches(sub, value[key]) for key, sub in pattern.items()
        )
    for alternative in pattern:
        if isinstance(alternative, dict):
            if "prefix" in alternative and isinstance(value, str) and value.startswith(alternative["prefix"]):
                return True
            if "anything-but" in alternative and value not in alternative["anything-but"]:
                return True
        elif value == alternative:
            return True
    return False


def stream_records(clients, table: str) -> list:
    """Every record of the table's stream so far, as Lambda would get it."""
    streams = clients["dynamodbstreams"]
    arn = clients["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            out = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(out["Records"])
            if not out["Records"]:
                break
            iterator = out.get("NextShardIterator")
    return records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(
    template_path: Path, bin_dir: Path, workspace: Path, check: Checks, cold_starts: int = 0, cli: Path | None = None
):
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    template = load_template(template_path)
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    session = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
    clients = {name: boto3.client(name, **session) for name in ("cloudformation", "s3", "dynamodb", "dynamodbstreams", "scheduler", "ssm", "ses")}
    functions: list[Function] = []
    try:
        admin_token = secrets.token_urlsafe(36)
        parameters = {
            name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec
        }
        parameters.update({"AdminToken": admin_token, "MailDomain": MAIL_DOMAIN})
        missing = [name for name in template["Parameters"] if name not in parameters]
        check("every parameter without a default is given", not missing, str(missing))

        cfn = clients["cloudformation"]
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(stateful_template(template)),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        check(f"stateful resources deployed through CloudFormation ({status})", status == "CREATE_COMPLETE")
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        }
        print("     " + ", ".join(f"{k}={v}" for k, v in sorted(physical.items())))
        resolver = Resolver(template, parameters, physical)
        complete_and_verify(clients, template, resolver, physical, check)

        # What the operator creates before deploying (the signing key) and what the rest of
        # the template creates (schedule group, verified mail identity).
        key_parameter = parameters["SigningKeyParameterName"]
        clients["ssm"].put_parameter(Name=key_parameter, Value=signing_key(cli or bin_dir / "verbatim"), Type="SecureString")
        group = resolver.ref("ClosingScheduleGroup")
        clients["scheduler"].create_schedule_group(Name=group)
        clients["ses"].verify_domain_identity(Domain=MAIL_DOMAIN)

        # Each function's environment: only what the template gives it.
        environments = {}
        for logical_id in BINARIES:
            env = function_environment(template, logical_id, resolver)
            # What Lambda itself sets, from the function's configuration.
            props = template["Resources"][logical_id]["Properties"]
            memory = props.get("MemorySize", template["Globals"]["Function"]["MemorySize"])
            env.update(
                {
                    "AWS_LAMBDA_FUNCTION_NAME": resolver.resolve(props["FunctionName"]),
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_LOG_GROUP_NAME": resolver.resolve(
                        template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]["LogGroupName"]
                    ),
                    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/28/[$LATEST]0",
                    # Lambda's advanced logging controls, from LoggingConfig.
                    "AWS_LAMBDA_LOG_FORMAT": props["LoggingConfig"].get("LogFormat", "Text").upper(),
                    "AWS_LAMBDA_LOG_LEVEL": props["LoggingConfig"].get("ApplicationLogLevel", "INFO"),
                    "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
                    "_HANDLER": template["Globals"]["Function"]["Handler"],
                }
            )
            environments[logical_id] = env
            if cold_starts:
                continue
            check(
                f"{logical_id}: names the deployed table and buckets",
                env["VERBATIM_TABLE"] == physical["Table"]
                and env["VERBATIM_PRIVATE_BUCKET"] == physical["PrivateBucket"]
                and env["VERBATIM_SITE_BUCKET"] == physical["SiteBucket"],
            )
        if cold_starts:
            measure_cold_starts(bin_dir, environments, endpoint, cold_starts)
            return
        for logical_id in ("IntakeFunction", "EmailIntakeFunction", "PublishFunction", "CloseFunction"):
            check(
                f"{logical_id}: VERBATIM_SIGNING_KEY_PARAMETER names the key parameter",
                environments[logical_id].get("VERBATIM_SIGNING_KEY_PARAMETER") == key_parameter,
            )
        for logical_id in ("IntakeFunction", "EmailIntakeFunction", "PublishFunction"):
            env = environments[logical_id]
            check(
                f"{logical_id}: mail domain, sender and public URL",
                env.get("VERBATIM_MAIL_DOMAIN") == MAIL_DOMAIN
                and env.get("VERBATIM_MAIL_FROM", "").endswith("@" + MAIL_DOMAIN)
                and env.get("VERBATIM_PUBLIC_URL") == f"https://{CLOUDFRONT_DOMAIN}",
            )

        def start(logical_id: str) -> Function:
            binary = function_binary(bin_dir, logical_id)
            check(f"{logical_id}: binary {binary.name} built", binary.is_file(), str(binary))
            function = Function(logical_id, binary, environments[logical_id], endpoint)
            functions.append(function)
            return function

        s3 = clients["s3"]
        private, site, inbound = physical["PrivateBucket"], physical["SiteBucket"], physical["InboundMailBucket"]

        # Admin: IAM-authorised requests carry the token in its own header.
        admin = start("AdminFunction")
        consultation = {
            "id": CONSULTATION,
            "title": {"en": "Stack check", "fr": "Vérification"},
            "questions": [{"en": "Does the template agree with the code?"}],
            "meeting_date": "2099-03-31",
        }
        signature = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261128/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
        refused = admin.invoke(
            http_event("POST", "/api/admin/consultations", {"authorization": signature, "content-type": "application/json"}, json.dumps(consultation), iam=True)
        )
        check("admin: a signed request without the token is refused (401)", refused["statusCode"] == 401, str(refused))
        created = admin.invoke(
            http_event(
                "POST",
                "/api/admin/consultations",
                {"authorization": signature, "x-verbatim-admin-token": admin_token, "content-type": "application/json"},
                json.dumps(consultation),
                iam=True,
            )
        )
        check("admin: creates a consultation in the template's table (201)", created["statusCode"] == 201, str(created))
        schedule = clients["scheduler"].get_schedule(Name=f"close-{CONSULTATION}", GroupName=group)
        check(
            "admin: its closing schedule is in the template's group, targeting the close function",
            schedule["Target"]["Arn"].endswith(f":function:{environments['CloseFunction']['AWS_LAMBDA_FUNCTION_NAME']}"),
            schedule["Target"]["Arn"],
        )

        # Intake: a response, stored in the private (Object Lock) bucket.
        intake = start("IntakeFunction")
        listed = intake.invoke(http_event("GET", "/api/consultations"))
        check(
            "intake: lists the consultation",
            listed["statusCode"] == 200 and CONSULTATION in listed["body"],
            str(listed)[:300],
        )
        text = "Exact bytes:\r\n\ttabs, CRLF, «ünïcödé», trailing space \n"
        receipt = intake.invoke(
            http_event(
                "POST",
                f"/api/consultations/{CONSULTATION}/responses",
                {"content-type": "application/json"},
                json.dumps({"name": "Ada Lovelace", "text": text, "category": "academia", "country": "GB"}),
            )
        )
        # On Lambda nothing numbers it in the request: the publish function's sequencer does,
        # woken by the stream. So intake answers 202 with the pending receipt and its Location.
        headers = {k.lower(): v for k, v in (receipt.get("headers") or {}).items()}
        check(
            "intake: takes a response (202, pending, with its Location)",
            receipt["statusCode"] == 202
            and json.loads(receipt["body"]).get("status") == "pending"
            and headers.get("location", "").startswith(f"/api/consultations/{CONSULTATION}/responses/"),
            str(receipt)[:500],
        )
        location = headers["location"]
        originals = s3.list_objects_v2(Bucket=private, Prefix="originals/").get("Contents", [])
        stored = [s3.get_object(Bucket=private, Key=o["Key"])["Body"].read() for o in originals]
        check(
            "intake: the original is in the private bucket, byte for byte",
            text.encode() in stored,
            str([o["Key"] for o in originals]),
        )

        # Publish: the stream batch DynamoDB would send renders the site bucket.
        publish = start("PublishFunction")
        table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical['Table']}"
        # The stream reports the pending item (pk C#<id>#P<shard>): the sequencer numbers it.
        publish.invoke(stream_event(table_arn, [(f"C#{CONSULTATION}", "META"), (f"C#{CONSULTATION}#P00", "0")]))
        numbered = intake.invoke(http_event("GET", location))
        receipt = json.loads(numbered["body"])
        check(
            "intake: the Location gives the full receipt once sequenced (number 1)",
            numbered["statusCode"] == 200 and receipt.get("number") == 1,
            str(numbered)[:500],
        )
        manifest = json.loads(
            s3.get_object(Bucket=site, Key=f"consultations/{CONSULTATION}/responses.json")["Body"].read()
        )
        check("publish: responses.json in the site bucket lists the response", manifest["total"] == 1, str(manifest)[:300])
        file_key = receipt["files"][0]["url"].lstrip("/")
        published = s3.get_object(Bucket=site, Key=file_key)["Body"].read()
        check("publish: the file on the site is the exact bytes", published == text.encode(), file_key)
        page = s3.get_object(Bucket=site, Key=f"consultations/{CONSULTATION}/responses/1.html")["Body"].read()
        check("publish: the response's own page is in the site bucket", b"<h1>" in page, str(page[:200]))
        extracted = s3.get_object(Bucket=site, Key=f"consultations/{CONSULTATION}/extracted/1.txt")["Body"].read()
        check("publish: the text extracted from its files, labelled derived", b"Derived, not the record" in extracted and text.encode() in extracted)
        # The one-minute schedule's event (EventBridge): the sweep builds the search index.
        publish.invoke({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        covered = json.loads(
            s3.get_object(Bucket=site, Key=f"consultations/{CONSULTATION}/pagefind/covered.json")["Body"].read()
        )
        check("publish: the search index covers the published response (a batch, then the sweep)", covered.get("responses") == 1, str(covered))
        s3.head_object(Bucket=site, Key=f"consultations/{CONSULTATION}/pagefind/pagefind-entry.json")
        written = s3.get_object(Bucket=private, Key=f"search/{CONSULTATION}/written")["Body"].read()
        check("publish: the index's parts written are kept in the private bucket", b".pf_" in written)

        # Presigned upload: granted by intake, PUT straight to the staging bucket, taken by a
        # JSON response into the private bucket.
        large = b"%PDF-1.7\n" + bytes(range(256)) * 4096 + b"\r\n%%EOF"
        grant = intake.invoke(
            http_event(
                "POST",
                f"/api/consultations/{CONSULTATION}/uploads",
                {"content-type": "application/json"},
                json.dumps({"name": "annex.pdf", "size": len(large)}),
            )
        )
        check("intake: grants a presigned upload (201)", grant["statusCode"] == 201, str(grant)[:500])
        grant = json.loads(grant["body"])
        staging = physical["StagingBucket"]
        check(
            "intake: the upload URL is signed for the staging bucket",
            f"/{staging}/staging/{CONSULTATION}/" in grant["url"] or f"//{staging}." in grant["url"],
            grant["url"][:300],
        )
        import urllib.request

        put = urllib.request.Request(grant["url"], data=large, method="PUT", headers=grant["headers"])
        with urllib.request.urlopen(put, timeout=30) as sent:
            check("staging bucket: takes the presigned PUT", sent.status == 200, str(sent.status))
        taken = intake.invoke(
            http_event(
                "POST",
                f"/api/consultations/{CONSULTATION}/responses",
                {"content-type": "application/json"},
                json.dumps({"name": "Grace Hopper", "uploads": [grant["upload"]]}),
            )
        )
        check("intake: a response takes the upload (202, pending)", taken["statusCode"] == 202, str(taken)[:500])
        originals = s3.list_objects_v2(Bucket=private, Prefix="originals/").get("Contents", [])
        check(
            "intake: the uploaded file is in the private bucket, byte for byte",
            large in [s3.get_object(Bucket=private, Key=o["Key"])["Body"].read() for o in originals],
        )

        # Email intake: a message as SES stores it, announced by the bucket's S3 event.
        email_crate = workspace / "functions/email-intake/Cargo.toml"
        if email_crate.exists():
            email = start("EmailIntakeFunction")
            message = (
                f"From: Grace Hopper <grace@example.org>\r\nTo: {CONSULTATION}@{MAIL_DOMAIN}\r\n"
                f"Subject: Our response\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n"
                "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\nBy email, exactly.\r\n"
            ).encode()
            key = f"inbound/{uuid.uuid4().hex}"
            s3.put_object(Bucket=inbound, Key=key, Body=message)
            email.invoke(s3_event(inbound, key, len(message)))
            originals = s3.list_objects_v2(Bucket=private, Prefix="originals/").get("Contents", [])
            stored = [s3.get_object(Bucket=private, Key=o["Key"])["Body"].read() for o in originals]
            check("email-intake: the message from the inbound bucket is stored as sent", message in stored)
        else:
            print("     (no functions/email-intake crate in this workspace: EmailIntakeFunction not run)")

        # Close: move the deadline to just ahead, then the schedule's event closes the
        # consultation and, after the in-flight grace, writes the dossier to the site.
        deadline = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3))
        moved = admin.invoke(
            http_event(
                "PATCH",
                f"/api/admin/consultations/{CONSULTATION}",
                {"authorization": signature, "x-verbatim-admin-token": admin_token, "content-type": "application/json"},
                json.dumps({"deadline": deadline, "reason": "stack check"}),
                iam=True,
            )
        )
        check("admin: moves the deadline (200)", moved["statusCode"] == 200, str(moved)[:300])
        lines = admin.log_lines()

        def json_object(line):
            try:
                return isinstance(json.loads(line), dict)
            except ValueError:
                return False

        check(
            "admin: logs one JSON object per line (LogFormat: JSON)",
            bool(lines) and all(json_object(line) for line in lines),
            "\n".join(lines[:5])[:600],
        )
        # The request log (tower-http): the request's span names its method and path, and a
        # line says how it was answered.
        answered = [
            line for line in lines
            if json_object(line) and '"PATCH"' in line and f"/api/admin/consultations/{CONSULTATION}" in line
            and '"status"' in line
        ]
        check(
            "admin: logs each request with its method, path and status, in its span",
            bool(answered),
            "\n".join(lines[-5:])[:600],
        )
        audit = admin.invoke(
            http_event(
                "GET",
                f"/api/admin/consultations/{CONSULTATION}/audit",
                {"authorization": signature, "x-verbatim-admin-token": admin_token},
                iam=True,
            )
        )
        entries = json.loads(audit.get("body") or "[]") if audit.get("statusCode") == 200 else []
        secretariat = f"arn:aws:iam::{ACCOUNT}:user/secretariat"
        check(
            "admin: the audit log names the IAM principal behind each change",
            len(entries) >= 2 and all(e.get("by") == secretariat for e in entries if e.get("actor") == "secretariat"),
            str(audit)[:400],
        )

        # The console, as CloudFront forwards it: the site's own origin in Origin, API
        # Gateway's host name in Host. The account is made by the CLI against the stack's table.
        people_env = dict(environments["AdminFunction"])
        people_env.update(
            {
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_ENDPOINT_URL": endpoint,
                "PATH": "/usr/bin:/bin",
            }
        )
        password = secrets.token_urlsafe(18)
        added = subprocess.run(
            [str(cli or bin_dir / "verbatim"), "admin", "add-user", "clerk", "--store", "aws"],
            input=password + "\n",
            env=people_env,
            capture_output=True,
            text=True,
        )
        check("console: `verbatim admin add-user --store aws` adds an account to the stack's table", added.returncode == 0, added.stderr[-400:])

        def cookies_of(answer: dict) -> dict:
            jar = {}
            for line in answer.get("cookies") or []:
                name, _, rest = line.partition("=")
                jar[name] = (rest.split(";")[0], line)
            return jar

        site_origin = f"https://{CLOUDFRONT_DOMAIN}"
        form_page = admin.invoke(http_event("GET", "/admin/sign-in"))
        form_cookies = cookies_of(form_page)
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', form_page.get("body") or "")
        check(
            "console: the sign-in page, with its form token in the form and a Secure cookie",
            form_page["statusCode"] == 200 and token is not None and any("Secure" in c for _, c in form_cookies.values()),
            str(form_page)[:400],
        )
        cookie_header = "; ".join(f"{k}={v}" for k, (v, _) in form_cookies.items())
        form = f"name=clerk&password={password}&csrf={token.group(1)}&lang=en"
        form_headers = {"content-type": "application/x-www-form-urlencoded", "cookie": cookie_header}
        elsewhere = admin.invoke(http_event("POST", "/admin/sign-in", {**form_headers, "origin": "https://attacker.example"}, form))
        check("console: a form posted from another site is refused (403)", elsewhere["statusCode"] == 403, str(elsewhere)[:300])
        signed_in = admin.invoke(http_event("POST", "/admin/sign-in", {**form_headers, "origin": site_origin}, form))
        session_cookies = {k: v for k, (v, line) in cookies_of(signed_in).items() if v and "Max-Age=0" not in line}
        check(
            "console: signs in from the public site's origin through API Gateway's host (303, a session)",
            signed_in["statusCode"] == 303 and bool(session_cookies),
            str(signed_in)[:400],
        )
        listing = admin.invoke(
            http_event("GET", "/admin/", {"cookie": "; ".join(f"{k}={v}" for k, v in session_cookies.items())})
        )
        check(
            "console: the list of consultations, read from the stack's table",
            listing["statusCode"] == 200 and CONSULTATION in (listing.get("body") or ""),
            str(listing)[:400],
        )
        # Publication is invoked only by what it needs: the template's stream filter, applied
        # to every record the run so far wrote to the table's stream (moto's stream).
        filters = [
            json.loads(f["Pattern"])
            for f in template["Resources"]["PublishFunction"]["Properties"]["Events"]["TableStream"]["Properties"][
                "FilterCriteria"
            ]["Filters"]
        ]
        invoking = []
        for record in stream_records(clients, physical["Table"]):
            keys = record["dynamodb"]["Keys"]
            what = (record["eventName"], keys["pk"]["S"], keys["sk"]["S"])
            if any(filter_matches(f, record) for f in filters):
                invoking.append(what)
        pending_inserts = [w for w in invoking if w[0] == "INSERT" and "#P" in w[1]]
        changes = [w for w in invoking if w[2] == "CHANGED"]
        check(
            "stream filter: new pending responses and the Secretariat's changes invoke publication",
            bool(pending_inserts) and bool(changes),
            str(invoking)[:400],
        )
        check(
            "stream filter: the sequencer's writes and the publication mark never do",
            all(w in pending_inserts or w in changes for w in invoking),
            str([w for w in invoking if w not in pending_inserts and w not in changes])[:400],
        )
        time.sleep(4)
        close = start("CloseFunction")
        close.invoke({"consultation": CONSULTATION}, timeout=150)
        dossier = s3.get_object(Bucket=site, Key=f"consultations/{CONSULTATION}/dossier.zip")["Body"].read()
        with zipfile.ZipFile(io.BytesIO(dossier)) as archive:
            in_dossier = archive.read("1/response.txt")
        check("close: dossier.zip in the site bucket holds the response, byte for byte", in_dossier == text.encode())
        close.invoke({})
        check("close: the sweep runs", True)
    finally:
        for function in functions:
            function.stop()
        moto.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=Path(__file__).with_name("template.yaml"))
    parser.add_argument("--bin-dir", type=Path, required=True, help="where cargo put the function binaries")
    parser.add_argument(
        "--cli", type=Path, help="the verbatim binary that makes the signing key (default: BIN_DIR/verbatim)"
    )
    parser.add_argument(
        "--cold-starts",
        type=int,
        default=0,
        metavar="N",
        help="instead of the checks, time each function's start to its first poll N times (bench/lambda.sh)",
    )
    args = parser.parse_args()
    check = Checks()
    try:
        run(args.template, args.bin_dir, Path(__file__).resolve().parent.parent, check, args.cold_starts, args.cli)
    except Exception:
        traceback.print_exc()
        if check.failed == 0:
            check.failed = 1
    print(f"stack check: {check.passed} passed, {check.failed} failed")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
