"""A fault-injecting HTTP proxy between the AWS SDK and moto, for the tests: the SDK is never
mocked, it talks to this proxy as to AWS, and a seeded random share of its requests fail.

    python fault_proxy.py PORT TARGET_URL SEED RATE

Each request, with probability RATE (0 to 1), gets one of these faults, chosen at random:

- before it reaches moto (nothing was done): a 500, a 503 (S3's SlowDown; DynamoDB's
  throttling answer, a 400 ThrottlingException; for SES, its throttling answer, a 429
  TooManyRequestsException, or a 503 ServiceUnavailable), or the connection closed without
  an answer;
- after moto did it (the write happened, the answer is lost): a 500, or the connection closed;
- a delay of 0.2 to 1 s before the request goes on.

Otherwise the request is forwarded as it is. `GET /__faults/RATE` changes the rate while
running (the test turns faults off to read back what was stored); `GET /__faults/RATE/KINDS`
also limits the faults drawn to KINDS (comma-separated names from FAULTS below), and
`GET /__faults/RATE/KINDS/OPERATION` to the requests whose operation (below, URL-encoded)
starts with OPERATION, until the next change. `GET /__faults/counts` answers the counts so far (JSON: each fault, and
"forwarded"). `GET /__faults/operations` answers every request seen so far by what it asks
for (`operation` below: the service, the operation, and the kind of item or object), and
`GET /__faults/operations/reset` starts those counts again: the capacity model's request
counts are measured this way. Prints "ready" when listening, the counts on stderr at the end,
and stops when stdin closes.
"""
import http.client
import http.server
import json
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter

PORT = int(sys.argv[1])
TARGET = urllib.parse.urlsplit(sys.argv[2])
RNG = random.Random(int(sys.argv[3]))
RNG_LOCK = threading.Lock()
FAULTS = ["500-before", "503-before", "reset-before", "500-after", "reset-after", "delay"]
STATE = {"rate": float(sys.argv[4]), "kinds": FAULTS, "only": ""}
COUNTS = Counter()
OPERATIONS = Counter()
# The items of the table (see shared/src/adapters/dynamodb.rs) by sort key, and by partition
# key prefix for the rest.
FIXED_SORT_KEYS = {"META", "SEQUENCER", "PUBLISHER", "PUBLISHED", "CHANGED", "NOTIFIED",
                   "OUTCOME_MAILING", "THROTTLE", "SESSION"}


def item_kind(key):
    """What a DynamoDB key names, as the capacity model counts it."""
    pk = key.get("pk", {}).get("S", "")
    sk = key.get("sk", {}).get("S", "")
    if sk in FIXED_SORT_KEYS:
        return sk
    if sk.startswith("R#"):
        return "numbered"
    if sk.startswith("B#"):
        return "batch"
    if pk.startswith("C#") and "#P" in pk:
        return "pending"
    if pk.startswith("RID#"):
        return "guard"
    return pk.split("#")[0] or "?"


def operation(command, path, headers, body):
    """`dynamodb GetItem META`, `dynamodb TransactWriteItems`, `s3 PUT originals`, …"""
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDB_"):
        name = target.split(".", 1)[1]
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return [f"dynamodb {name}"]
        if name in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            return [f"dynamodb {name} {item_kind(request.get('Key') or request.get('Item') or {})}"]
        if name == "Query":
            pk = next(iter((request.get("ExpressionAttributeValues") or {}).values()), {})
            return [f"dynamodb Query {item_kind({'pk': pk, 'sk': {'S': ''}})}"]
        if name == "BatchWriteItem":
            kinds = []
            for requests in (request.get("RequestItems") or {}).values():
                for write in requests:
                    op, detail = next(iter(write.items()))
                    kinds.append(f"dynamodb (in a batch) {op} "
                                 f"{item_kind(detail.get('Key') or detail.get('Item') or {})}")
            return [f"dynamodb {name}"] + kinds
        if name == "BatchGetItem":
            kinds = [f"dynamodb (in a batch) Get {item_kind(key)}"
                     for keys in (request.get("RequestItems") or {}).values()
                     for key in keys.get("Keys", [])]
            return [f"dynamodb {name}"] + kinds
        if name == "TransactWriteItems":
            items = request.get("TransactItems", [])
            kinds = []
            for item in items:
                op, detail = next(iter(item.items()))
                kinds.append(f"dynamodb (in a transaction) {op} "
                             f"{item_kind(detail.get('Key') or detail.get('Item') or {})}")
            return [f"dynamodb {name}"] + kinds
        return [f"dynamodb {name}"]
    if "/ses/aws4_request" in headers.get("Authorization", ""):
        return [f"ses {command} {urllib.parse.urlsplit(path).path}"]
    # S3, path-style: /bucket/key…; the key's first segment says what it is.
    parts = urllib.parse.urlsplit(path).path.lstrip("/").split("/")
    top = parts[1] if len(parts) > 1 and parts[1] else "(bucket)"
    return [f"s3 {command} {top}"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection", "content-length"}


def draw(asked):
    with RNG_LOCK:
        if not asked[0].startswith(STATE["only"]) or RNG.random() >= STATE["rate"]:
            return None, 0.0
        return RNG.choice(STATE["kinds"]), RNG.uniform(0.2, 1.0)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def is_dynamodb(self):
        return self.headers.get("X-Amz-Target", "").startswith("DynamoDB_")

    def is_ses(self):
        # SES v2 (REST and JSON) signs for the service name "ses".
        return "/ses/aws4_request" in self.headers.get("Authorization", "")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, kind, draw):
        if self.is_ses():
            # SES's throttling answer, or a plain 503, as the draw (already made) says.
            name, status = {
                "500": ("InternalFailure", 500),
                "503": ("TooManyRequestsException", 429) if draw < 0.6
                else ("ServiceUnavailable", 503),
            }[kind]
            body = json.dumps({"message": "injected by the test proxy"}).encode()
            self.send_response(status)
            self.send_header("x-amzn-ErrorType", name)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.is_dynamodb():
            name, status = {
                "500": ("InternalServerError", 500),
                "503": ("ThrottlingException", 400),
            }[kind]
            body = ('{"__type":"com.amazonaws.dynamodb.v20120810#%s",'
                    '"message":"injected by the test proxy"}' % name).encode()
            self.answer(status, body, "application/x-amz-json-1.0")
        else:
            code, status = {"500": ("InternalError", 500), "503": ("SlowDown", 503)}[kind]
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                    "<Message>injected by the test proxy</Message></Error>" % code).encode()
            self.answer(status, body, "application/xml")

    def reset(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def forward(self, body):
        connection = http.client.HTTPConnection(TARGET.hostname, TARGET.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        connection.request(self.command, self.path, body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        connection.close()
        return reply, data

    def handle_any(self):
        if self.path == "/__faults/counts":
            with RNG_LOCK:
                counts = dict(COUNTS)
            self.answer(200, json.dumps(counts).encode(), "application/json")
            return
        if self.path.startswith("/__faults/operations"):
            with RNG_LOCK:
                counts = dict(OPERATIONS)
                if self.path.endswith("/reset"):
                    OPERATIONS.clear()
            self.answer(200, json.dumps(counts).encode(), "application/json")
            return
        if self.path.startswith("/__faults/"):
            rate, _, kinds = self.path[len("/__faults/"):].partition("/")
            kinds, _, only = kinds.partition("/")
            kinds = kinds.split(",") if kinds else FAULTS
            if not all(kind in FAULTS for kind in kinds):
                return self.answer(400, b"unknown fault", "text/plain")
            with RNG_LOCK:
                STATE["rate"], STATE["kinds"] = float(rate), kinds
                STATE["only"] = urllib.parse.unquote(only)
            self.answer(200, b"ok", "text/plain")
            return
        body = self.body()
        asked = operation(self.command, self.path, self.headers, body)
        fault, delay = draw(asked)
        with RNG_LOCK:
            COUNTS[fault or "forwarded"] += 1
            OPERATIONS.update(asked)
        if fault == "delay":
            time.sleep(delay)
        if fault == "500-before":
            return self.error("500", delay)
        if fault == "503-before":
            return self.error("503", delay)
        if fault == "reset-before":
            return self.reset()
        reply, data = self.forward(body)
        if fault == "500-after":
            return self.error("500", delay)
        if fault == "reset-after":
            return self.reset()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (the SDK's timeout, a reset we made) is not news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


server = Server(("127.0.0.1", PORT), Proxy)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
print("fault proxy: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())), file=sys.stderr)
