"""Starts moto's server with DynamoDB made linearizable.

moto runs requests on several threads, and its TransactWriteItems copies the whole table first
and, when a condition fails, puts that copy back, erasing what other threads wrote meanwhile.
Real DynamoDB transactions are serializable, and Keyhook's exactly-once issuance relies on that;
so every DynamoDB operation here takes one lock. DynamoDB Streams reads take the same lock, so a
reader never sees the records of a transaction that is still running (and may yet be cancelled,
which removes them). (Arguments are moto_server's: -H, -p.)

`/moto-api/data.json?service=ses` answers one service's models: moto's page serialises every
model of every service (every item of every test's table), which grows through a test run and
holds the server's one core (a late read took seconds); the tests and `keyhook emails` read only
the sent emails. Without `service`, the page is moto's own.
"""

import functools
import json
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.moto_api._internal.responses import MotoAPIResponse
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
