"""Starts moto's server with DynamoDB made linearizable.

moto runs requests on several threads, and its TransactWriteItems copies the whole table first
and, when a condition fails, puts that copy back, erasing what other threads wrote meanwhile.
Real DynamoDB transactions are serializable, and Keyhook's exactly-once issuance relies on that;
so every DynamoDB operation here takes one lock. DynamoDB Streams reads take the same lock, so a
reader never sees the records of a transaction that is still running (and may yet be cancelled,
which removes them). (Arguments are moto_server's: -H, -p.)
"""

import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.server import main

_LOCK = threading.RLock()


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

if __name__ == "__main__":
    main()
