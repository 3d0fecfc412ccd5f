"""A TCP proxy that delays every byte by a fixed one-way latency in each direction, so a
benchmark on loopback sees the round trips of a real network (the kernel's netem qdisc would do
it, but the machines this runs on may lack the module). Standard library only.

    python3 delay_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS

Prints "ready" once listening. Each chunk is forwarded DELAY_MS after it arrived (call_later
keeps the order, since every chunk waits the same), so pipelined bytes are not serialised
behind one another's delay.
"""

import asyncio
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    try:
        while data := await reader.read(65536):
            loop.call_later(delay, writer.write, data)
    finally:
        loop.call_later(delay, writer.close)


async def main():
    listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    delay_ms = float(sys.argv[4])
    delay = delay_ms / 1000

    async def handle(client_reader, client_writer):
        # A new connection costs a round trip before the first request can leave.
        await asyncio.sleep(2 * delay)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, upstream_writer, delay),
            pump(upstream_reader, client_writer, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
