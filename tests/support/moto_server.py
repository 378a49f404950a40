"""Runs moto's AWS emulator for the test suite on 127.0.0.1:PORT until stdin closes.

    python moto_server.py PORT [TRANSACTION_ITEM_MS]

Started by the tests themselves: when the test process ends, for whatever reason, the pipe
to our stdin closes and the emulator stops, so no server is ever left behind.

Requests are handled concurrently, as AWS would, and moto's DynamoDB is made to behave as
DynamoDB does where the project's correctness depends on it:

- **Transactions conflict.** A transaction holds its items from the moment it starts until
  it is applied; another transaction touching one of them meanwhile is cancelled with the
  reason `TransactionConflict`, and a single-item write to one of them fails with
  `TransactionConflictException`, as DynamoDB answers under contention. TRANSACTION_ITEM_MS
  (default 0) is how long each item of a transaction keeps it in progress: with it, the
  tests reproduce slow transactions (numbering that lags intake by minutes) and the
  cancellations that come with them; each item of a `BatchWriteItem` takes as long, one
  request at a time. Transactions are limited as DynamoDB limits them: 100
  items, 4 MB.
- **All or nothing, for writers and readers.** moto's conditional writes check and then
  write, and its transactions back up whole tables and restore them if a condition fails
  (whatever another request wrote meanwhile is lost; and the deep copy made each
  transaction cost time and memory in proportion to everything stored). Here a transaction
  checks every condition, then applies its writes, in one step that no read or other write
  can interleave with (a short exclusive section around the Python updates; the time a
  transaction is in progress is not inside it), so no reader ever sees half a transaction;
  only the items it touches are backed up, to undo the writes if one fails its validation
  (`all_or_nothing`). Single-item writes check and write in the same kind of step.
- moto's Query reads and sorts the whole table to find one partition (`query_one_partition`).
"""
import contextlib
import json
import sys
import threading
import time

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import copy
import functools

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb import comparisons, exceptions
from moto.dynamodb.models import dynamo_type

TRANSACTION_ITEM_S = (float(sys.argv[2]) if len(sys.argv) > 2 else 0.0) / 1000
TRANSACTION_BYTES = 4 * 1024 * 1024


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before new readers (so a stream of
    reads cannot starve writes); the writer's own thread may read."""

    def __init__(self):
        self._changed = threading.Condition()
        self._readers = 0
        self._writer = None
        self._waiting_writers = 0

    @contextlib.contextmanager
    def reading(self):
        me = threading.get_ident()
        if self._writer == me:
            yield
            return
        with self._changed:
            while self._writer is not None or self._waiting_writers:
                self._changed.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def writing(self):
        with self._changed:
            self._waiting_writers += 1
            while self._writer is not None or self._readers:
                self._changed.wait()
            self._waiting_writers -= 1
            self._writer = threading.get_ident()
        try:
            yield
        finally:
            with self._changed:
                self._writer = None
                self._changed.notify_all()


applying = ReadWriteLock()
# The items of transactions in progress: (table, key) -> the transaction's token.
in_progress = {}
in_progress_guard = threading.Lock()


class TransactionConflict(exceptions.DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"

    def __init__(self):
        super().__init__(
            TransactionConflict.error_type,
            "Transaction is ongoing for the item",
        )


def identity(table_name, table, attributes):
    """An item's identity: its table and its key's attributes, from a key or a whole item
    (`None` for a malformed one, which moto's own validation then refuses)."""
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    try:
        return (str(table_name), json.dumps({n: attributes[n] for n in names}, sort_keys=True))
    except (KeyError, TypeError):
        return None


def read(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with applying.reading():
            return method(*args, **kwargs)

    return wrapper


def single_write(method, key_of):
    """A single-item write: checked and written in one step; refused while a transaction in
    progress holds the item, as DynamoDB refuses it."""

    @functools.wraps(method)
    def wrapper(self, table_name, *args, **kwargs):
        table = self.get_table(table_name)
        ident = identity(table_name, table, key_of(args, kwargs))
        with applying.writing():
            if ident is not None and ident in in_progress:
                raise TransactionConflict()
            return method(self, table_name, *args, **kwargs)

    return wrapper


def first_argument(name):
    return lambda args, kwargs: args[0] if args else kwargs[name]


def all_or_nothing(self, transact_items):
    """TransactWriteItems as DynamoDB does it, without copying tables.

    The transaction takes its items (another one holding any of them cancels it: conflict),
    stays in progress TRANSACTION_ITEM_MS an item, then in one exclusive step checks every
    condition against the items as they are and, only if all hold, applies the writes (the
    items are distinct, so one write cannot change another's condition). Only the items it
    touches are backed up, to undo the writes if one fails its validation."""
    if len(transact_items) > 100:
        raise exceptions.TooManyTransactionsException()
    if len(json.dumps(transact_items)) > TRANSACTION_BYTES:
        raise exceptions.MockValidationException(
            "Transaction request cannot be larger than 4 MB"
        )
    token = object()
    held = []
    try:
        conflicts = []
        idents = [transaction_item(self, item) for item in transact_items]
        with in_progress_guard:
            for ident in idents:
                conflicts.append(ident is not None and in_progress.get(ident, token) is not token)
            if any(conflicts):
                raise exceptions.TransactionCanceledException([
                    ("TransactionConflict", "Transaction is ongoing for the item", None)
                    if conflict else (None, None, None)
                    for conflict in conflicts
                ])
            for ident in idents:
                if ident is not None:
                    in_progress[ident] = token
                    held.append(ident)
        if TRANSACTION_ITEM_S:
            time.sleep(TRANSACTION_ITEM_S * len(transact_items))
        with applying.writing():
            check_and_apply(self, transact_items)
    finally:
        with in_progress_guard:
            for ident in held:
                if in_progress.get(ident) is token:
                    del in_progress[ident]


def transaction_item(self, item):
    """The identity of a transaction's item (`None` if malformed: validation refuses it)."""
    try:
        op_type, op = next(iter(item.items()))
        attributes = op["Item"] if op_type == "Put" else op["Key"]
        return identity(op["TableName"], self.get_table(op["TableName"]), attributes)
    except Exception:  # noqa: BLE001 - moto's validation reports it, in check_and_apply
        return None


def check_and_apply(self, transact_items):
    """The conditions, then the writes, of a transaction whose items are held."""
    targets = set()
    checked = []  # (op_type, op, table, key)
    errors = []  # moto's cancellation reasons: (code, message, item), one per item
    for item in transact_items:
        if len(item) > 1:
            raise exceptions.TransactWriteSingleOpException()
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        try:
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if target in targets:
                raise exceptions.MultipleTransactionsException()
            targets.add(target)
            current = moto_get_item(self, op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                holds = comparisons.get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                ).expr(current)
                if not holds:
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                    continue
            checked.append((op_type, op, table, key))
            errors.append((None, None, None))
        except exceptions.MockValidationException:
            raise
        except Exception as failed:  # moto reports any other failure as the item's reason
            errors.append((type(failed).__name__, str(failed), None))
    if any(code is not None for code, _, _ in errors):
        raise exceptions.TransactionCanceledException(errors)

    backups = []  # (table, hash, range, the item before, the stream's length before)
    try:
        for op_type, op, table, key in checked:
            if op_type == "ConditionCheck":
                continue
            hash_value = dynamo_type.DynamoType(key[table.hash_key_attr])
            range_value = (
                dynamo_type.DynamoType(key[table.range_key_attr])
                if table.range_key_attr is not None
                else None
            )
            before = table.get_item(hash_value, range_value)
            stream = table.stream_shard
            backups.append(
                (table, hash_value, range_value, copy.deepcopy(before),
                 len(stream.items) if stream is not None else None)
            )
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                moto_put_item(self, op["TableName"], op["Item"])
            elif op_type == "Delete":
                moto_delete_item(self, op["TableName"], key)
            else:
                moto_update_item(
                    self,
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table, hash_value, range_value, before, stream_length in reversed(backups):
            restore(table, hash_value, range_value, before)
            if stream_length is not None:
                del table.stream_shard.items[stream_length:]
        raise


def restore(table, hash_value, range_value, before):
    """Puts an item back as it was (or absent), without a stream record: the write is undone."""
    if range_value is None:
        if before is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = before
    elif before is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = before


# moto's Query reads every item of the table, sorted, keeps those of the partition asked for,
# then compares each with the key condition: each query cost time in proportion to everything
# stored (the guards, pending items and log entries of every consultation), which is not what
# DynamoDB's costs look like and made a 2,048-response surge quadratic. A query of the base
# table here reads only its partition's items that meet the key condition; moto then sorts,
# pages and filters them as before, so the result is the same.
querying = threading.local()
Table = dynamodb_models.Table
moto_query, moto_all_items = Table.query, Table.all_items


@functools.wraps(moto_query)
def query_one_partition(self, hash_key, range_comparison, range_objs, *args, **kwargs):
    index_name = args[4] if len(args) > 4 else kwargs.get("index_name")
    querying.partition = None if index_name else (self, hash_key, range_comparison, range_objs)
    try:
        return moto_query(self, hash_key, range_comparison, range_objs, *args, **kwargs)
    finally:
        querying.partition = None


@functools.wraps(moto_all_items)
def all_items(self):
    partition = getattr(querying, "partition", None)
    if partition is None or partition[0] is not self or not self.range_key_attr:
        return moto_all_items(self)
    _, hash_key, comparison, objects = partition
    items = self.items.get(hash_key, {}).values()
    if comparison:
        items = [item for item in items if item.range_key.compare(comparison, objects)]
    return sorted(items, key=lambda item: item.range_key)


Table.query, Table.all_items = query_one_partition, all_items

Backend = dynamodb_models.DynamoDBBackend
moto_get_item, moto_put_item = Backend.get_item, Backend.put_item
moto_update_item, moto_delete_item = Backend.update_item, Backend.delete_item
Backend.transact_write_items = all_or_nothing
Backend.put_item = single_write(moto_put_item, first_argument("item_attrs"))
Backend.update_item = single_write(moto_update_item, first_argument("key"))
Backend.delete_item = single_write(moto_delete_item, first_argument("key"))
for name in ("get_item", "query", "scan"):
    setattr(Backend, name, read(getattr(Backend, name)))

from moto.dynamodb.responses import DynamoHandler  # noqa: E402

moto_batch_write_item = DynamoHandler.batch_write_item
batch_lane = threading.Lock()


def slow_batch_write_item(self):
    """BatchWriteItem on a busy table: with TRANSACTION_ITEM_MS, each of its items takes that
    long, one request at a time (the writes of a rush share the table's throughput), so that
    the sequencer's batched writes lag intake as its transactions do."""
    if TRANSACTION_ITEM_S:
        requests = (self.body or {}).get("RequestItems", {})
        with batch_lane:
            time.sleep(TRANSACTION_ITEM_S * sum(len(r) for r in requests.values()))
    return moto_batch_write_item(self)


DynamoHandler.batch_write_item = slow_batch_write_item

app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", int(sys.argv[1]), app, True, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
