#!/usr/bin/env python3
"""Readiness probes for deploy/stack and deploy/cluster, stdlib only (they run before any
virtualenv exists).

probe.py kafka HOST PORT                    -> exit 0 when the broker answers a Metadata request
probe.py clickhouse HOST HTTP_PORT USER PW  -> exit 0 when ClickHouse answers SELECT 1
probe.py clickhouse-zookeeper HOST HTTP_PORT USER PW
                                            -> exit 0 when ClickHouse reads ZooKeeper's root
probe.py zookeeper HOST PORT                -> exit 0 when ZooKeeper answers `ruok` with `imok`
"""

from __future__ import annotations

import socket
import struct
import sys
import urllib.parse
import urllib.request

API_VERSIONS = 18
METADATA = 3


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client = b"frontline-stack"
    header = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _read(sock, 4))[0]
    payload = _read(sock, size)
    if struct.unpack(">i", payload[:4])[0] != corr:
        raise RuntimeError("correlation id mismatch")
    return payload[4:]


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def _metadata_range(sock: socket.socket) -> tuple[int, int]:
    # ApiVersions v0 is answered by every broker version; it tells which Metadata versions exist.
    resp = _request(sock, API_VERSIONS, 0, 1, b"")
    error, count = struct.unpack(">hi", resp[:6])
    if error:
        raise RuntimeError(f"ApiVersions error {error}")
    for i in range(count):
        key, lo, hi = struct.unpack(">hhh", resp[6 + 6 * i : 12 + 6 * i])
        if key == METADATA:
            return lo, hi
    raise RuntimeError("broker does not list the Metadata API")


def kafka(host: str, port: int) -> str:
    with socket.create_connection((host, port), timeout=3) as sock:
        lo, hi = _metadata_range(sock)
        # v4..v8 share one non-flexible layout; Kafka 4.x dropped v0..v3.
        version = max(lo, 4)
        if version > min(hi, 8):
            raise RuntimeError(f"no Metadata version between 4 and 8 (broker has {lo}..{hi})")
        body = struct.pack(">ib", -1, 0)  # all topics, no auto-creation
        if version == 8:
            body += struct.pack(">bb", 0, 0)
        resp = _request(sock, METADATA, version, 2, body)
        (brokers,) = struct.unpack(">i", resp[4:8])
        if brokers < 1:
            raise RuntimeError("metadata lists no broker yet")
        return f"metadata v{version}: {brokers} broker(s)"


def _clickhouse_query(host: str, port: int, user: str, password: str, sql: str) -> str:
    query = urllib.parse.urlencode({"query": sql, "user": user, "password": password})
    with urllib.request.urlopen(f"http://{host}:{port}/?{query}", timeout=3) as resp:
        return str(resp.read().decode().strip())


def clickhouse(host: str, port: int, user: str, password: str) -> str:
    text = _clickhouse_query(host, port, user, password, "SELECT 1")
    if text != "1":
        raise RuntimeError(f"unexpected answer {text!r}")
    return "SELECT 1 -> 1"


def clickhouse_zookeeper(host: str, port: int, user: str, password: str) -> str:
    # Fails (HTTP 500) while the server has no ZooKeeper session yet.
    sql = "SELECT count() FROM system.zookeeper WHERE path = '/'"
    text = _clickhouse_query(host, port, user, password, sql)
    return f"system.zookeeper: {text} node(s) under /"


def _four_letter_word(host: str, port: int, word: bytes) -> str:
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.sendall(word)
        buf = b""
        while chunk := sock.recv(4096):  # the server closes the connection after its answer
            buf += chunk
    return buf.decode(errors="replace")


def zookeeper(host: str, port: int) -> str:
    # Four-letter words answer only when zoo.cfg's 4lw.commands.whitelist names them.
    answer = _four_letter_word(host, port, b"ruok")
    if answer != "imok":
        raise RuntimeError(f"ruok -> {answer!r}")
    fields = dict(
        line.split(": ", 1)
        for line in _four_letter_word(host, port, b"srvr").splitlines()
        if ": " in line
    )
    mode = fields.get("Mode", "?")
    version = fields.get("Zookeeper version", "?").split("-", 1)[0]
    return f"imok, mode {mode}, version {version}"


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["kafka"] and len(argv) == 3:
            print(kafka(argv[1], int(argv[2])))
        elif argv[:1] == ["clickhouse"] and len(argv) == 5:
            print(clickhouse(argv[1], int(argv[2]), argv[3], argv[4]))
        elif argv[:1] == ["clickhouse-zookeeper"] and len(argv) == 5:
            print(clickhouse_zookeeper(argv[1], int(argv[2]), argv[3], argv[4]))
        elif argv[:1] == ["zookeeper"] and len(argv) == 3:
            print(zookeeper(argv[1], int(argv[2])))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as exc:  # a probe reports any failure as "not ready"
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
