"""A small OpenAI-compatible embeddings server (POST /v1/embeddings) for benchmarks and tests.

It computes real, deterministic vectors without a model file: each lower-cased word and each
character trigram of a text is hashed into a signed slot, and the vector is L2-normalised (a
lexical embedding, like the library's built-in one, but computed by a separate program behind
HTTP). Both the C library's HTTP embedder and the Python original's OpenAI client can use it, so
they embed the same vectors at the same cost.

    python embed_server.py --port 8765 --dim 384
    # then OPENAI_BASE_URL=http://127.0.0.1:8765/v1 or LLMEMORY_EMBED_URL=http://127.0.0.1:8765/v1

For tests it can also answer every request with a status (--status 429) or wait (--delay-ms).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

_WORD = re.compile(r"\w+", re.UNICODE)


def embed(text: str, dim: int) -> list[float]:
    v = [0.0] * dim
    t = text.lower()
    feats = _WORD.findall(t)
    s = f" {t} "
    feats += [s[i:i + 3] for i in range(max(0, len(s) - 2))]
    for f in feats:
        h = hashlib.blake2b(f.encode("utf-8", "replace"), digest_size=8).digest()
        n = int.from_bytes(h, "little")
        v[n % dim] += 1.0 if (n >> 63) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


class _Handler(BaseHTTPRequestHandler):
    server: "EmbedServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        srv = self.server
        srv.requests += 1
        if srv.delay_ms:
            time.sleep(srv.delay_ms / 1000)
        if srv.status != 200:
            return self._send(srv.status, {"error": {"message": "refused for testing"}})
        if not self.path.rstrip("/").endswith("/embeddings"):
            return self._send(404, {"error": {"message": "not found"}})
        try:
            req = json.loads(body)
            inp = req["input"]
            texts = [inp] if isinstance(inp, str) else list(inp)
        except (ValueError, KeyError, TypeError):
            return self._send(400, {"error": {"message": "bad request"}})
        dim = int(req.get("dimensions") or srv.dim)
        data = []
        for i, t in enumerate(texts):
            vec = embed(t if isinstance(t, str) else " ".join(map(str, t)), dim)
            if req.get("encoding_format") == "base64":
                emb: object = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
            else:
                emb = vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        srv.texts += len(texts)
        self._send(200, {"object": "list", "data": data, "model": req.get("model", "hash"),
                         "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    def _send(self, status: int, obj: object) -> None:
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(out)


class EmbedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, dim: int = 384, status: int = 200,
                 delay_ms: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.dim, self.status, self.delay_ms = dim, status, delay_ms
        self.requests = 0
        self.texts = 0
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> "EmbedServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()
    srv = EmbedServer(a.port, a.dim, a.status, a.delay_ms)
    print(srv.url, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
