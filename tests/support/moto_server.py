"""Runs moto's AWS emulator for the test suite on 127.0.0.1:PORT until stdin closes.

Started by the tests themselves: when the test process ends, for whatever reason, the pipe
to our stdin closes and the emulator stops, so no server is ever left behind.

Requests are handled concurrently, as AWS would, with three repairs to moto's DynamoDB:

- moto's conditional writes check and then write, and its transactions back up their tables
  before they start and restore the backup if a condition fails: whatever another request
  wrote meanwhile would be lost, which real DynamoDB never does. So DynamoDB writes
  (single-item writes and transactions) run one at a time here, while reads and every other
  service stay concurrent. One write at a time is one of the orders DynamoDB's own
  serializable writes could take, so it hides no outcome the code must handle. The write path
  does not rely on it for its correctness: a response's own items are written by it alone,
  and the one contended item, a consultation's count, has one writer per consultation (its
  sequencer), fenced by a condition.
- That backup is a deep copy of the whole table for every item of the transaction, so each
  transaction cost time and memory in proportion to everything stored (2,048 responses never
  finished: 10 GB after 7 CPU-minutes). Here a transaction checks every condition first and
  writes only if all hold, as DynamoDB's all-or-nothing semantics say, backing up only the
  items it touches in case a write fails its validation (`all_or_nothing`).
- moto's Query reads and sorts the whole table to find one partition (`query_one_partition`).
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

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb import comparisons, exceptions
from moto.dynamodb.models import dynamo_type

one_write_at_a_time = threading.RLock()


def serialized(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with one_write_at_a_time:
            return method(*args, **kwargs)

    return wrapper


def all_or_nothing(self, transact_items):
    """TransactWriteItems as DynamoDB does it, without copying tables.

    Every condition is checked first, against the items as they are, and nothing is written
    unless all hold (the items are distinct, so one write cannot change another's condition);
    then the writes are applied. Only the items the transaction touches are backed up, to undo
    the writes if one fails its validation. Runs under the write lock, like every write here."""
    if len(transact_items) > 100:
        raise exceptions.TooManyTransactionsException()
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
            current = self.get_item(op["TableName"], key)
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
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            else:
                self.update_item(
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
Backend.transact_write_items = serialized(all_or_nothing)
for name in ("put_item", "update_item", "delete_item", "batch_write_item"):
    setattr(Backend, name, serialized(getattr(Backend, name)))

app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", int(sys.argv[1]), app, True, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
server.shutdown()
