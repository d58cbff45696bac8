"""MongoDB-wire helpers for scripts/bench.sh: operation counters, and billings seeded directly.

    python mongo.py opcounters --port P
        One `serverStatus` on a fresh socket, as a raw OP_MSG: no driver, so no handshake, no
        monitoring connections, no `endSessions`; the only operation this costs the server is
        the `serverStatus` command itself (bench.sh measures that cost once per server and
        subtracts it). Prints one line:
            insert=N query=N update=N delete=N getmore=N command=N

    python mongo.py seed --uri URI --users U --billings N --prefix P
        Inserts U users and N billings shaped as the previous Node/Mongoose service wrote them
        (see tests/api/mongo_compat.rs: ObjectId `_id`, BSON dates, `totalInvoice` and
        `phone.phoneNumber` as doubles, `paymentDate` null, `__v` 0), billingIds 000000001..N
        in `_id` order, round-robin over the users, and sets the `billingId` counter to N.
        Prints one line:
            SEEDED users=U billings=N seconds=S

    python mongo.py check-list FILE N
        Checks that FILE (a `GET /billings` body) is a JSON array of exactly N billings in
        strictly increasing `_id` order with distinct billingIds. Prints one line:
            LIST items=N bytes=B first=BILLINGID last=BILLINGID
"""

import argparse
import datetime
import json
import os
import socket
import struct
import sys
import time

COUNTERS = ("insert", "query", "update", "delete", "getmore", "command")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the server closed the connection mid-reply")
        buf.extend(chunk)
    return bytes(buf)


def server_status(port: int) -> dict:
    import bson  # pymongo's

    body = bson.encode({"serverStatus": 1, "$db": "admin"})
    payload = struct.pack("<I", 0) + b"\x00" + body  # flagBits, section kind 0, the command
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013)  # OP_MSG
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(header + payload)
        length, _req, _resp, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        reply = _recv_exact(sock, length - 16)
    if opcode != 2013:
        raise RuntimeError(f"unexpected reply opcode {opcode}")
    if reply[4] != 0:
        raise RuntimeError(f"unexpected OP_MSG section kind {reply[4]}")
    doc_len = struct.unpack("<i", reply[5:9])[0]
    return bson.decode(reply[5 : 5 + doc_len])


def cmd_opcounters(args) -> int:
    status = server_status(args.port)
    if status.get("ok") != 1 and status.get("ok") != 1.0:
        print(f"serverStatus failed: {status}", file=sys.stderr)
        return 1
    ops = status.get("opcounters")
    if not isinstance(ops, dict):
        print(f"serverStatus has no opcounters (keys: {sorted(status)})", file=sys.stderr)
        return 1
    missing = [k for k in COUNTERS if k not in ops]
    if missing:
        print(f"serverStatus.opcounters lacks {missing} ({ops})", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={int(ops[k])}" for k in COUNTERS))
    return 0


def cmd_seed(args) -> int:
    from bson import ObjectId
    from pymongo import MongoClient

    start = time.monotonic()
    client = MongoClient(args.uri, serverSelectionTimeoutMS=10000)
    db = client.get_default_database()
    utc = datetime.timezone.utc
    # Mongoose stores dates as BSON dates with millisecond precision.
    base = datetime.datetime(2025, 1, 1, tzinfo=utc)
    users = []
    for i in range(1, args.users + 1):
        created = base + datetime.timedelta(minutes=i)
        users.append(
            {
                "_id": ObjectId(),
                "userId": f"{args.prefix}-{i}",
                "name": f"Stream User {i}",
                "email": f"stream{i}@example.com",
                "address": {"city": "Bogotá", "country": "CO", "zipCode": "110111", "address": f"Cra 7 # {i}"},
                # Mongoose writes `Number` as a double.
                "phone": {"codeNumber": "+57", "phoneNumber": float(3100000000 + i)},
                "isActive": True,
                "createdAt": created,
                "updatedAt": created,
                "__v": 0,
            }
        )
    db.users.insert_many(users)

    batch = []
    # ObjectId() in one process: one random part, an increasing counter, so `_id` order is the
    # billingId order.
    for i in range(1, args.billings + 1):
        user = users[(i - 1) % len(users)]
        generated = base + datetime.timedelta(seconds=i)
        batch.append(
            {
                "_id": ObjectId(),
                "userId": user["userId"],
                "billingId": f"{i:09d}",
                "generationDate": generated,
                "dueDate": generated + datetime.timedelta(days=14),
                "serviceId": str(i % 5 + 1),
                "totalInvoice": float(100000 + (i % 1000) * 250),
                "isPaid": False,
                "paymentDate": None,
                "phone": dict(user["phone"]),
                "createdAt": generated,
                "updatedAt": generated,
                "__v": 0,
            }
        )
        if len(batch) == args.batch:
            db.billings.insert_many(batch)
            batch = []
    if batch:
        db.billings.insert_many(batch)
    db.counters.update_one({"_id": "billingId"}, {"$set": {"seq": float(args.billings)}}, upsert=True)
    stored = db.billings.count_documents({})
    client.close()
    if stored != args.billings:
        print(f"inserted {args.billings} billings but the collection holds {stored}", file=sys.stderr)
        return 1
    print(f"SEEDED users={args.users} billings={args.billings} seconds={time.monotonic() - start:.3f}")
    return 0


def cmd_check_list(args) -> int:
    size = os.path.getsize(args.file)
    with open(args.file, "rb") as f:
        try:
            items = json.load(f)
        except ValueError as e:
            print(f"the body is not JSON ({e}); {size} bytes", file=sys.stderr)
            return 1
    if not isinstance(items, list):
        print(f"the body is a JSON {type(items).__name__}, not an array", file=sys.stderr)
        return 1
    problems = []
    if len(items) != args.count:
        problems.append(f"{len(items)} items, not {args.count}")
    ids = []
    billing_ids = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("_id"), str) or "billingId" not in item:
            problems.append(f"item {i} is not a billing: {str(item)[:200]}")
            break
        ids.append(item["_id"])
        billing_ids.add(item["billingId"])
    else:
        if len(billing_ids) != len(items):
            problems.append(f"{len(items) - len(billing_ids)} repeated billingIds")
        # 24-hex ObjectIds compare as strings in numeric order.
        unordered = sum(1 for a, b in zip(ids, ids[1:]) if not a < b)
        if unordered:
            problems.append(f"{unordered} items not in increasing _id order")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 1
    first = items[0]["billingId"] if items else "-"
    last = items[-1]["billingId"] if items else "-"
    print(f"LIST items={len(items)} bytes={size} first={first} last={last}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("opcounters")
    p.add_argument("--port", type=int, required=True)
    p.set_defaults(func=cmd_opcounters)
    p = sub.add_parser("seed")
    p.add_argument("--uri", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--billings", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--batch", type=int, default=1000)
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("check-list")
    p.add_argument("file")
    p.add_argument("count", type=int)
    p.set_defaults(func=cmd_check_list)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one line for the script's log, not a traceback
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
