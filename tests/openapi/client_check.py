"""A merchant's first script, written against a client generated from Keyhook's OpenAPI document
(openapi-python-client; scripts/api-check.sh generates it into a temporary package
`keyhook_api_client` and runs this with it on the import path, against the local stack).

It proves the document is usable as-is: typed bodies in, typed answers out, errors parsed into
the documented error schema. Run by `make test`; exits non-zero on any surprise.

Usage: KEYHOOK_URL=... KEYHOOK_TOKEN=... python client_check.py
"""

import os
import sys
import uuid

from keyhook_api_client import AuthenticatedClient
from keyhook_api_client.api.licenses import get_api_licenses, post_api_licenses
from keyhook_api_client.api.products import post_api_products
from keyhook_api_client.models import (
    ErrorBody,
    IssueInputCreate,
    LicenseView,
    ProductInputCreate,
    ProductView,
)


def check(condition, what):
    if not condition:
        sys.exit(f"client check failed: {what}")


def main():
    client = AuthenticatedClient(base_url=os.environ["KEYHOOK_URL"], token=os.environ["KEYHOOK_TOKEN"])

    # Create a product; a retry with the same Idempotency-Key returns the same product.
    key = str(uuid.uuid4())
    body = ProductInputCreate(name="Client Check Pro", price="49.00", max_devices=3)
    first = post_api_products.sync_detailed(client=client, body=body, idempotency_key=key)
    check(first.status_code == 201, f"create product: {first.status_code} {first.content!r}")
    product = first.parsed
    check(isinstance(product, ProductView), f"a ProductView, not {type(product).__name__}")
    check(product.name == "Client Check Pro" and product.max_devices == 3, f"product as sent: {product}")
    again = post_api_products.sync_detailed(client=client, body=body, idempotency_key=key)
    check(again.status_code == 201 and again.parsed.id == product.id, "a retried create returns the first product")

    # A documented error comes back as the documented error schema.
    bad = post_api_products.sync_detailed(client=client, body=ProductInputCreate(name="X", price="1.999"))
    check(bad.status_code == 422 and isinstance(bad.parsed, ErrorBody), f"bad price: {bad.status_code}")
    check(bad.parsed.error.code == "validation_failed", f"error code: {bad.parsed.error.code}")

    # Issue a license by hand, then list the product's licenses.
    issued = post_api_licenses.sync(
        client=client,
        body=IssueInputCreate(product_id=product.id, customer_email="buyer@client-check.example.com", send_email=False),
    )
    check(isinstance(issued, LicenseView), f"issue license: {issued}")
    listed = get_api_licenses.sync(client=client, product_id=product.id, limit=10)
    check(listed is not None and not isinstance(listed, ErrorBody), f"list licenses: {listed}")
    check([lic.id for lic in listed.items] == [issued.id], f"the product's one license listed: {listed.items}")
    check(listed.items[0].key == issued.key and listed.items[0].max_devices == 3, "the listed license is the one issued")
    print(f"client check: product {product.id}, license {issued.id} listed ({len(listed.items)} of the product's)")


if __name__ == "__main__":
    main()
