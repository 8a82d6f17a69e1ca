"""A stand-in for Meta's Graph API for bench/campaigns.sh: answers a template
list and every send, each send after LATENCY seconds (as Meta's 100-300 ms),
and counts sends per second. GET /stats answers the counts as JSON.

Stdlib asyncio with keep-alive, so one core serves thousands of sends a
second; the shapes follow Meta's Cloud API reference ("Send message" 200
response; "Get message templates" list).

    python3 bench/fake_meta.py PORT LATENCY_SECONDS
"""
import asyncio
import json
import sys
import time
from collections import Counter

PORT = int(sys.argv[1])
LATENCY = float(sys.argv[2])
per_second = Counter()
recipients = Counter()
sent = 0

TEMPLATES = {
    "data": [{
        "name": "bench_promo", "language": "en_US", "status": "APPROVED",
        "category": "MARKETING", "id": "bench-promo-id",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your code is {{2}}"}],
    }],
    "paging": {"cursors": {"before": "A", "after": "END"}},
}


async def handle(reader, writer):
    global sent
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, path, _ = line.decode().split(" ", 2)
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode().partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            if method == "POST" and path.endswith("/messages"):
                await asyncio.sleep(LATENCY)
                sent += 1
                per_second[int(time.time())] += 1
                to = json.loads(body or b"{}").get("to", "")
                recipients[to] += 1
                answer = {"messaging_product": "whatsapp",
                          "contacts": [{"input": to, "wa_id": to}],
                          "messages": [{"id": f"wamid.BENCH{sent}"}]}
            elif "message_templates" in path:
                answer = TEMPLATES
            elif path.startswith("/stats"):
                answer = {"sent": sent, "per_second": sorted(per_second.items()),
                          "recipients": len(recipients),
                          "repeated": sum(1 for n in recipients.values() if n > 1)}
            else:
                answer = {"success": True}
            data = json.dumps(answer).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         + f"content-length: {len(data)}\r\n\r\n".encode() + data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=4096)
    async with server:
        await server.serve_forever()


asyncio.run(main())
