#!/usr/bin/env python3
"""A small local stand-in for the BULI2 manual-review service (tests, make run).

POST /internal/reviews   records the JSON body, answers 201 {"taskId","status"}
                         (or the configured failure status while one is set)
POST /_fail?status=500&count=N   the next N review POSTs fail with that status
                                 (count=-1: until /_fail?count=0)
GET  /_stats             {"received": n, "failed": n, "reviews": [...]}

Every accepted review is appended to STATE/reviews.jsonl with the headers
that matter (Authorization), so tests can assert what was delivered.
"""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

lock = threading.Lock()
state = {"fail_status": 500, "fail_left": 0, "received": 0, "failed": 0, "reviews": []}


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if urlparse(self.path).path == "/_stats":
            with lock:
                self._send(200, {k: state[k] for k in ("received", "failed", "reviews")})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if url.path == "/_fail":
            q = parse_qs(url.query)
            with lock:
                state["fail_status"] = int(q.get("status", ["500"])[0])
                state["fail_left"] = int(q.get("count", ["1"])[0])
            self._send(200, {"ok": True})
            return
        if url.path != "/internal/reviews":
            self._send(404, {"error": "not found"})
            return
        with lock:
            state["received"] += 1
            if state["fail_left"] != 0:
                if state["fail_left"] > 0:
                    state["fail_left"] -= 1
                state["failed"] += 1
                code = state["fail_status"]
                self._send(code, {"error": "injected failure"})
                return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return
        with lock:
            n = len(state["reviews"]) + 1
            task = "BULI2-TASK-%04d" % n
            record = {"taskId": task, "authorization": self.headers.get("Authorization"),
                      "body": body}
            state["reviews"].append(record)
            with open(os.path.join(args.state, "reviews.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        self._send(201, {"taskId": task, "status": "queued"})


parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--state", required=True)
args = parser.parse_args()
os.makedirs(args.state, exist_ok=True)
ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
