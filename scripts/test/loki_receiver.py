"""A Loki push-API receiver for the end-to-end tests (remote-telemetry.sh, remote-netns.sh).

Usage: python3 loki_receiver.py PORT OUT.jsonl. Every push shaped as Loki documents it (JSON,
string labels with workspace_id/owner/region, [ns-timestamp, line] values) is appended to
OUT.jsonl; anything else gets 400, so a malformed push fails the test that reads OUT.jsonl.
"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
out = open(sys.argv[2], "a")
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            assert self.path == "/loki/api/v1/push", self.path
            assert self.headers.get("Content-Type", "").startswith("application/json")
            doc = json.loads(body)
            assert isinstance(doc["streams"], list) and doc["streams"]
            for s in doc["streams"]:
                assert all(isinstance(v, str) for v in s["stream"].values())
                for k in ("workspace_id", "owner", "region"):
                    assert s["stream"].get(k), k
                for pair in s["values"]:
                    ts, line = pair
                    assert len(pair) == 2 and ts.isdigit() and len(ts) >= 19, pair
                    json.loads(line)
        except Exception as e:  # noqa: BLE001 — any shape error is a 400, as Loki answers
            self.send_response(400); self.end_headers(); self.wfile.write(str(e).encode()); return
        out.write(body.decode() + "\n"); out.flush()
        self.send_response(204); self.end_headers()
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
