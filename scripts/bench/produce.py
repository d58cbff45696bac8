"""Produces N `Customer.Created` events to a Kafka topic, for scripts/bench.sh.

    python produce.py --brokers 127.0.0.1:9092 --topic T --count 50000 --prefix bench-sqlite

Each event is {"type": "Customer.Created", "payload": {"userId": ..., "name": ...}} with a
distinct userId (PREFIX-0000001, ...), keyed by that userId. Every message must be acknowledged
by the broker (acks=all): the script exits non-zero otherwise. Prints one line:
    PRODUCED count=N seconds=S
"""

import argparse
import json
import sys
import time

from confluent_kafka import KafkaException, Producer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the final flush")
    args = parser.parse_args()

    producer = Producer(
        {
            "bootstrap.servers": args.brokers,
            "client.id": "billing-bench-producer",
            "acks": "all",
            # Big batches, few round trips: the producer is not what is measured.
            "linger.ms": 50,
            "batch.num.messages": 10000,
            "batch.size": 1048576,
            "queue.buffering.max.messages": 200000,
            "queue.buffering.max.kbytes": 262144,
            "message.timeout.ms": int(args.timeout * 1000),
        }
    )

    acked = 0
    errors = []

    def on_delivery(err, _msg):
        nonlocal acked
        if err is None:
            acked += 1
        elif len(errors) < 5:
            errors.append(str(err))
        else:
            errors.append(None)

    start = time.monotonic()
    for i in range(1, args.count + 1):
        user_id = f"{args.prefix}-{i:07d}"
        value = json.dumps(
            {"type": "Customer.Created", "payload": {"userId": user_id, "name": f"Bench Customer {i}"}},
            separators=(",", ":"),
        ).encode()
        while True:
            try:
                producer.produce(args.topic, value=value, key=user_id.encode(), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: let deliveries drain it
        if i % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(args.timeout)
    seconds = time.monotonic() - start

    if remaining or acked != args.count or errors:
        shown = "; ".join(e for e in errors if e)
        print(
            f"produced {acked} of {args.count} messages to {args.topic}"
            f" ({remaining} still queued, {len(errors)} delivery errors: {shown})",
            file=sys.stderr,
        )
        return 1
    print(f"PRODUCED count={acked} seconds={seconds:.3f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KafkaException as e:
        print(f"kafka error: {e}", file=sys.stderr)
        sys.exit(1)
