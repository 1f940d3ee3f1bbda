"""A small Confluent Schema Registry for eddy's tests (Python's standard
library only, not eddy's code): the endpoints a producer and eddy use,
memory only.

  schema_registry.py PORT   -> serves http://127.0.0.1:PORT until killed

  POST /subjects/{subject}/versions   {"schema": "..."} -> {"id": N}
       (the same schema text gets the same id, as in Confluent's registry)
  GET  /schemas/ids/{id}              -> {"schema": "..."}
  GET  /subjects/{subject}/versions/latest
                                      -> {"subject", "version", "id", "schema"}
  GET  /subjects                      -> ["subject", ...]

Unknown ids and subjects get 404 with Confluent's error codes (40403,
40401).
"""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
schemas = {}  # id -> schema text
ids = {}  # schema text -> id
subjects = {}  # subject -> [id, ...] (versions in order)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self, code, message):
        self.answer(404, {"error_code": code, "message": message})

    def do_POST(self):
        m = re.fullmatch(r"/subjects/([^/]+)/versions", self.path)
        if not m:
            return self.not_found(404, "no such endpoint")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        text = body["schema"]
        with lock:
            if text not in ids:
                ids[text] = len(schemas) + 1
                schemas[ids[text]] = text
            versions = subjects.setdefault(m.group(1), [])
            if ids[text] not in versions:
                versions.append(ids[text])
            self.answer(200, {"id": ids[text]})

    def do_GET(self):
        with lock:
            m = re.fullmatch(r"/schemas/ids/(\d+)", self.path)
            if m:
                id = int(m.group(1))
                if id not in schemas:
                    return self.not_found(40403, "Schema not found")
                return self.answer(200, {"schema": schemas[id]})
            m = re.fullmatch(r"/subjects/([^/]+)/versions/latest", self.path)
            if m:
                versions = subjects.get(m.group(1))
                if not versions:
                    return self.not_found(40401, f"Subject '{m.group(1)}' not found.")
                id = versions[-1]
                return self.answer(200, {"subject": m.group(1), "version": len(versions), "id": id, "schema": schemas[id]})
            if self.path == "/subjects":
                return self.answer(200, sorted(subjects))
            self.not_found(404, "no such endpoint")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
