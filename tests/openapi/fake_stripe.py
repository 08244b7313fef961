"""A fake Stripe API for the API conformance run (scripts/api-check.sh): just enough of
Stripe's HTTP API for Keyhook's checkout route, answering with Stripe's own example objects
(events/stripe/objects/) filled in from the request, like tests/support/fake_stripe.rs does for
the Rust tests. Standard library only.

- POST /v1/checkout/sessions -> 200, a checkout.session built from the form;
- GET  /v1/prices/{id}       -> Stripe's 404 (no recurring prices are registered here);
- GET  /v1/events            -> an empty list;
- GET  /v1/account           -> Stripe's example account (any sk_/rk_ key is accepted);
- GET/POST /v1/webhook_endpoints, GET/POST/DELETE /v1/webhook_endpoints/{id} -> endpoints kept
  in memory (`secret` only in the create answer; Stripe's 404 for one not there), so connecting
  an app by its key (POST /api/stripe/apps with a secretKey alone) works here as with Stripe.

Usage: python3 fake_stripe.py PORT
"""

import json
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

OBJECTS = Path(__file__).resolve().parents[2] / "events" / "stripe" / "objects"
SESSION = json.loads((OBJECTS / "checkout.session.json").read_text())
ACCOUNT = json.loads((OBJECTS / "account.json").read_text())
ENDPOINT = json.loads((OBJECTS / "webhook_endpoint.json").read_text())
ENDPOINTS = {}


def stripe_error(code, param, message):
    return {"error": {"type": "invalid_request_error", "code": code, "param": param, "message": message}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("content-length") or 0)
        return parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)

    def endpoint_missing(self, endpoint_id):
        return self.answer(404, stripe_error("resource_missing", "id", f"No such webhook endpoint: '{endpoint_id}'"))

    def do_DELETE(self):
        path = urlparse(self.path).path
        endpoint_id = path.removeprefix("/v1/webhook_endpoints/")
        if not path.startswith("/v1/webhook_endpoints/") or ENDPOINTS.pop(endpoint_id, None) is None:
            return self.endpoint_missing(endpoint_id)
        return self.answer(200, {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/v1/account":
            return self.answer(200, ACCOUNT)
        if path == "/v1/webhook_endpoints":
            data = list(reversed(ENDPOINTS.values()))
            return self.answer(200, {"object": "list", "url": path, "has_more": False, "data": data})
        if path.startswith("/v1/webhook_endpoints/"):
            endpoint_id = path.removeprefix("/v1/webhook_endpoints/")
            if endpoint_id not in ENDPOINTS:
                return self.endpoint_missing(endpoint_id)
            return self.answer(200, ENDPOINTS[endpoint_id])
        if path == "/v1/events":
            return self.answer(200, {"object": "list", "url": "/v1/events", "has_more": False, "data": []})
        if path.startswith("/v1/prices/"):
            price = path.removeprefix("/v1/prices/")
            return self.answer(404, stripe_error("resource_missing", "price", f"No such price: '{price}'"))
        return self.answer(404, stripe_error("resource_missing", None, f"Unrecognized request URL (GET: {path})"))

    def do_POST(self):
        pairs = self.form()
        form = dict(pairs)
        path = urlparse(self.path).path
        if path.startswith("/v1/webhook_endpoints"):
            events = [v for k, v in pairs if k == "enabled_events[]"]
            metadata = {k[len("metadata["):-1]: v for k, v in pairs if k.startswith("metadata[")}
            if path == "/v1/webhook_endpoints":
                endpoint = dict(ENDPOINT)
                endpoint.update(id="we_" + secrets.token_hex(12), url=form.get("url"), enabled_events=events,
                                description=form.get("description"), metadata=metadata, created=int(time.time()))
                ENDPOINTS[endpoint["id"]] = endpoint
                return self.answer(200, dict(endpoint, secret="whsec_" + secrets.token_hex(16)))
            endpoint_id = path.removeprefix("/v1/webhook_endpoints/")
            if endpoint_id not in ENDPOINTS:
                return self.endpoint_missing(endpoint_id)
            endpoint = ENDPOINTS[endpoint_id]
            for key in ("url", "description"):
                if key in form:
                    endpoint[key] = form[key]
            if events:
                endpoint["enabled_events"] = events
            if "disabled" in form:
                endpoint["status"] = "disabled" if form["disabled"] == "true" else "enabled"
            endpoint["metadata"] = dict(endpoint.get("metadata") or {}, **metadata)
            return self.answer(200, endpoint)
        if path != "/v1/checkout/sessions":
            return self.answer(404, stripe_error("resource_missing", None, f"Unrecognized request URL (POST: {path})"))
        if "line_items[0][price]" in form:
            price = form["line_items[0][price]"]
            return self.answer(400, stripe_error("resource_missing", "line_items[0][price]", f"No such price: '{price}'"))
        quantity = int(form.get("line_items[0][quantity]", "1"))
        unit = form.get("line_items[0][price_data][unit_amount]")
        total = int(unit) * quantity if unit is not None else None
        session_id = "cs_test_" + secrets.token_hex(12)
        session = dict(SESSION)
        session.update(
            id=session_id,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
            mode=form.get("mode"),
            currency=form.get("line_items[0][price_data][currency]"),
            amount_subtotal=total,
            amount_total=total,
            metadata={k[len("metadata["):-1]: v for k, v in form.items() if k.startswith("metadata[")},
            customer_email=form.get("customer_email"),
            success_url=form.get("success_url"),
            cancel_url=form.get("cancel_url"),
            payment_intent=None,
            customer_details=None,
            payment_status="unpaid",
            status="open",
            created=int(time.time()),
        )
        return self.answer(200, session)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
