"""Starts moto's server with DynamoDB made linearizable.

moto runs requests on several threads, and its TransactWriteItems copies the whole table first
and, when a condition fails, puts that copy back, erasing what other threads wrote meanwhile.
Real DynamoDB transactions are serializable, and Keyhook's exactly-once issuance relies on that;
so every DynamoDB operation here takes one lock. DynamoDB Streams reads take the same lock, so a
reader never sees the records of a transaction that is still running (and may yet be cancelled,
which removes them). (Arguments are moto_server's: -H, -p.)

TransactWriteItems is replaced by one that checks every condition first and writes only when
all hold: with the lock, nothing else runs in between, so nothing has to be rolled back. moto's
own copies the whole table once per action before writing (to put it back on a cancellation),
which grows with the table: a 100-action transaction on a table of 100,000 licenses (the import
benchmark) took minutes and gigabytes.

moto's dispatcher finds each request's service under one lock, listing its own package
directory (a stat per module, about 150) and matching the host against every service's URL
patterns: under 16 concurrent clients most request time went to waiting on that lock (issue 33,
docs/deploy.md "Local stack"). The answer depends only on the host, so it is remembered per
host. Its request log (werkzeug's line per request, written under one lock by every thread)
is off: errors and tracebacks still go to the log.

`/moto-api/data.json?service=ses` answers one service's models: moto's page serialises every
model of every service (every item of every test's table), which grows through a test run and
holds the server's one core (a late read took seconds); the tests and `keyhook emails` read only
the sent emails. Without `service`, the page is moto's own.
"""

import copy
import functools
import json
import logging
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main

_LOCK = threading.RLock()


def _transact_write_items(self, transact_items):
    """moto's TransactWriteItems (same checks, errors and cancellation reasons), in two passes:
    every condition against the state before the transaction, then the writes, only if none
    failed. A write that fails anyway (a malformed update) puts back the items written before
    it."""
    from moto.dynamodb import models as m

    if len(transact_items) > 100:
        raise m.TooManyTransactionsException()
    targets = set()
    errors = []
    ops = []
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise m.TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise m.MultipleTransactionsException()
            targets.add(target)
            current = self.get_item(table_name, key)
            if op.get("ConditionExpression") is not None:
                condition = m.get_filter_expression(
                    op["ConditionExpression"],
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise m.ConditionalCheckFailed(item=original_item)
            ops.append((op_type, op, table_name, key, current))
            errors.append((None, None, None))
        except (m.MultipleTransactionsException, m.MockValidationException):
            raise
        except m.ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: E722 as moto: any other failure cancels, with its name
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise m.TransactionCanceledException(errors)
    done = []
    try:
        for op_type, op, table_name, key, current in ops:
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            condition = op.get("ConditionExpression")
            before = copy.deepcopy(current)
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition,
                              expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition,
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition,
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)
            if op_type != "ConditionCheck":
                done.append((table_name, key, before))
    except Exception:
        for table_name, key, before in reversed(done):
            table = self.get_table(table_name)
            if before is None:
                self.delete_item(table_name, key)
            else:
                table.put_item(before.to_json()["Attributes"])
        raise


DynamoDBBackend.transact_write_items = _transact_write_items


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


for _backend in (DynamoDBBackend, DynamoDBStreamsBackend):
    for _name in dir(_backend):
        _attr = getattr(_backend, _name)
        if callable(_attr) and not _name.startswith("_"):
            setattr(_backend, _name, _serialised(_attr))

_backend_for_host = DomainDispatcherApplication.get_backend_for_host
_BACKENDS_BY_HOST = {}


def _cached_backend_for_host(self, host):
    """moto's lookup, remembered per host (its module list and URL patterns never change)."""
    try:
        return _BACKENDS_BY_HOST[host]
    except KeyError:
        backend = _backend_for_host(self, host)
        _BACKENDS_BY_HOST[host] = backend
        return backend


DomainDispatcherApplication.get_backend_for_host = _cached_backend_for_host

logging.getLogger("werkzeug").setLevel(logging.WARNING)

_all_model_data = MotoAPIResponse.model_data


def _model_data(self, request, full_url, headers):
    service = getattr(request, "args", {}).get("service")
    if not service:
        return _all_model_data(self, request, full_url, headers)
    from moto.core.model_instances import model_data

    models = model_data.get(service, {})
    result = {service: {}}
    for name in sorted(models):
        result[service][name] = []
        for instance in models[name].instances_tracked:
            fields = {}
            for attr in dir(instance):
                if attr.startswith("_"):
                    continue
                try:
                    value = getattr(instance, attr)
                    json.dumps(value)
                except (TypeError, AttributeError, ValueError):
                    continue
                fields[attr] = value
            result[service][name].append(fields)
    return 200, {"Content-Type": "application/json"}, json.dumps(result)


MotoAPIResponse.model_data = _model_data

if __name__ == "__main__":
    main()
