#!/usr/bin/env python3
"""A delaying, counting HTTP proxy in front of a KMS endpoint (moto in the tests and benchmark).

Every request waits --delay-ms before it is forwarded, standing for the network round trip to a
real KMS, and is counted by its X-Amz-Target (TrentService.Decrypt, .Encrypt, ...).
GET /__proxy/counts returns the counts as JSON; POST /__proxy/reset clears them.
Requests are handled on their own threads, so the delay is latency, not a throughput limit.

    scripts/kms-proxy.py --listen 127.0.0.1:4599 --upstream http://127.0.0.1:5000 --delay-ms 20
"""

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {}
LOCK = threading.Lock()
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def make_handler(upstream, delay):
    target = urllib.parse.urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def control(self):
            if self.path == "/__proxy/counts":
                with LOCK:
                    body = json.dumps(COUNTS, sort_keys=True).encode()
                self.reply(200, body, [("Content-Type", "application/json")])
                return True
            if self.path == "/__proxy/reset":
                with LOCK:
                    COUNTS.clear()
                self.reply(200, b"{}")
                return True
            return False

        def forward(self):
            if self.path.startswith("/__proxy/") and self.control():
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            action = self.headers.get("X-Amz-Target") or f"{self.command} {self.path}"
            with LOCK:
                COUNTS[action] = COUNTS.get(action, 0) + 1
            time.sleep(delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                passed = [
                    (k, v)
                    for k, v in answer.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
                ]
                self.reply(answer.status, data, passed)
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = forward

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on")
    parser.add_argument("--upstream", required=True, help="base URL of the real endpoint")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="delay per request")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), make_handler(args.upstream, args.delay_ms / 1000))
    server.daemon_threads = True
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
