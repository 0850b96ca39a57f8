#!/usr/bin/env python3
"""A slow link on loopback, for scripts/bench (tc netem is not available here).

A TCP proxy: every accepted connection is forwarded to --upstream with
  - a rate cap on the response direction (upstream -> client), per connection:
    a token bucket of --rate bytes/s with a burst of --burst bytes;
  - a latency: data in each direction is held back half of --latency-ms before
    it is passed on (a delay line, not stop-and-wait: throughput is kept), so
    the first byte of a response arrives --latency-ms after its request left
    the client, on a fresh connection and on a kept-alive one alike;
  - a connect delay: the upstream connection is opened, and nothing is passed
    on, until --connect-ms after accept (the handshake of a real link).
It knows nothing of HTTP. --rate 0 and zero delays make a plain proxy (used to
measure the proxy's own capacity).

  bench-proxy.py --upstream 127.0.0.1:8080 [--listen 127.0.0.1:0] [--rate 25000000]
                 [--latency-ms 40] [--connect-ms 40] [--ready-file PATH]

Once listening it writes {"port": N, "pid": N} to --ready-file (atomically) and
prints "bench-proxy listening on 127.0.0.1:N". SIGTERM/SIGINT stop it.
"""
import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time

CHUNK = 256 * 1024
QUEUE_CHUNKS = 32  # at most this many chunks held in a delay line (backpressure beyond)


class Bucket:
    """Token bucket: take(n) returns once n bytes fit into rate bytes/s."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.t = time.monotonic()

    async def take(self, n):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        self.tokens -= n
        if self.tokens < 0:  # in debt: wait until it is paid
            await asyncio.sleep(-self.tokens / self.rate)


async def pipe(reader, writer, delay, bucket, chunk):
    """Copies reader to writer through a delay line (and the bucket, if any)."""
    queue = asyncio.Queue(maxsize=QUEUE_CHUNKS)

    async def produce():
        try:
            while True:
                data = await reader.read(chunk)
                if data and bucket:
                    await bucket.take(len(data))
                await queue.put((time.monotonic() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((0, None))

    async def consume():
        while True:
            due, data = await queue.get()
            if data is None:  # the reading side failed
                raise ConnectionResetError
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    producer = asyncio.ensure_future(produce())
    try:
        await consume()
    finally:
        producer.cancel()


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def handle(client_r, client_w, args):
    upstream_w = None
    try:
        nodelay(client_w)
        if args.connect_ms > 0:
            await asyncio.sleep(args.connect_ms / 1000)
        host, port = args.upstream.rsplit(":", 1)
        upstream_r, upstream_w = await asyncio.open_connection(host, int(port))
        nodelay(upstream_w)
        half = args.latency_ms / 2000
        bucket = Bucket(args.rate, args.burst) if args.rate > 0 else None
        chunk = min(CHUNK, args.burst) if bucket else CHUNK
        up = asyncio.ensure_future(pipe(client_r, upstream_w, half, None, CHUNK))
        down = asyncio.ensure_future(pipe(upstream_r, client_w, half, bucket, chunk))
        # Both directions end normally, or one fails and the other is dropped.
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        await asyncio.gather(*done, *pending, return_exceptions=True)
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        for w in (client_w, upstream_w):
            if w is not None:
                w.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: a free one)")
    p.add_argument("--rate", type=float, default=25e6, help="bytes/s per connection, response direction (0: no cap)")
    p.add_argument("--burst", type=int, default=64 * 1024, help="token bucket size in bytes")
    p.add_argument("--latency-ms", type=float, default=40, help="request to first response byte")
    p.add_argument("--connect-ms", type=float, default=40, help="extra delay of a new connection")
    p.add_argument("--ready-file", help='write {"port", "pid"} here once listening')
    args = p.parse_args()

    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), host, int(port), backlog=256)
    bound = server.sockets[0].getsockname()[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"port": bound, "pid": os.getpid()}, f)
        os.replace(tmp, args.ready_file)
    print(f"bench-proxy listening on {host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
