"""Stripe's own Python library on the payloads `cargo bench --bench purchase` just timed
(`verify-small.body`, `verify-large.body` in the figures directory): the CPU time of
`stripe.Webhook.construct_event` (verify the Stripe-Signature header, then parse the event),
the same work as Keyhook's verify + parse, per event. Writes the figures group `stripe_python`
for the table `make bench` ends with (tests/bench_summary.rs), which judges Keyhook's time as a
fraction of this one, measured in the same run on the same machine.

Usage: stripe_verify_bench.py FIGURES_DIR
"""

import hashlib
import hmac
import json
import os
import sys
import time

import stripe

SECRET = "whsec_benchmark_secret_0123456789"


def header(body: bytes, timestamp: int) -> str:
    """The Stripe-Signature header Stripe would send (the scheme Keyhook verifies)."""
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def per_event_us(body: bytes, iterations: int) -> float:
    payload = body.decode("utf-8")
    sig = header(body, int(time.time()))
    for _ in range(max(1, iterations // 10)):  # warm-up
        stripe.Webhook.construct_event(payload, sig, SECRET)
    started = time.process_time()
    for _ in range(iterations):
        event = stripe.Webhook.construct_event(payload, sig, SECRET)
    elapsed = time.process_time() - started
    assert event["type"] == "checkout.session.completed", event["type"]
    return elapsed * 1e6 / iterations


def main() -> None:
    figures = sys.argv[1]
    out = {}
    print(f"== stripe-python {stripe.VERSION}: Webhook.construct_event (verify + parse) ==")
    for name, iterations in [("small", 1000), ("large", 100)]:
        path = os.path.join(figures, f"verify-{name}.body")
        with open(path, "rb") as f:
            body = f.read()
        us = per_event_us(body, iterations)
        print(f"  payload {len(body):>6} bytes: {us:>8.1f} µs CPU per event ({iterations} events)")
        out[f"us_{name}"] = us
        out[f"bytes_{name}"] = len(body)
    out["version"] = stripe.VERSION
    with open(os.path.join(figures, "stripe_python.json"), "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
