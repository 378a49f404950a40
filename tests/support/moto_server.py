"""Runs moto's AWS emulator for the test suite on 127.0.0.1:PORT until stdin closes.

Started by the tests themselves: when the test process ends, for whatever reason, the pipe
to our stdin closes and the emulator stops, so no server is ever left behind.

Requests are handled concurrently, as AWS would, with two repairs to moto's DynamoDB:

- A transaction backs up its tables before it starts and, if a condition fails, restores the
  backup: whatever another request wrote meanwhile would be lost, which real DynamoDB never
  does. So DynamoDB writes (single-item writes and transactions) run one at a time here, while
  reads and every other service stay concurrent. The write path does not rely on this for its
  correctness: a response's own items are written by it alone, and the one contended item, a
  consultation's count, has one writer per consultation (its sequencer), fenced by a condition.
- The backup is a deep copy of the table for every item of the transaction (a 97-item batch
  copied the table 97 times); here each table is copied once per transaction, which is the same
  backup.
"""
import sys
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import copy
import functools
import types

import moto.dynamodb.models as dynamodb_models

one_write_at_a_time = threading.RLock()


def serialized(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with one_write_at_a_time:
            return method(*args, **kwargs)

    return wrapper


def backed_up_once(transact_write_items):
    @functools.wraps(transact_write_items)
    def wrapper(self, transact_items):
        copies = {}

        def deepcopy(obj, memo=None):
            if isinstance(obj, dynamodb_models.Table):
                if id(obj) not in copies:
                    copies[id(obj)] = copy.deepcopy(obj, memo)
                return copies[id(obj)]
            return copy.deepcopy(obj, memo)

        dynamodb_models.copy = types.SimpleNamespace(deepcopy=deepcopy)
        try:
            return transact_write_items(self, transact_items)
        finally:
            dynamodb_models.copy = copy

    return wrapper


Backend = dynamodb_models.DynamoDBBackend
Backend.transact_write_items = serialized(backed_up_once(Backend.transact_write_items))
for name in ("put_item", "update_item", "delete_item", "batch_write_item"):
    setattr(Backend, name, serialized(getattr(Backend, name)))

app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", int(sys.argv[1]), app, True, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
