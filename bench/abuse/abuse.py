#!/usr/bin/env python3
"""bench/abuse/abuse.py: availability under abuse, over loopback only.

A victim tenant searches in a loop while one scenario attacks the server; before each scenario
the victim searches alone (the quiet baseline, same run). Prints one line per scenario:
scenario, victim p50/p95 quiet and during, the p95 ratio, and what the scenario itself measures.
Every loop is bounded in count and in time; the script stops by itself.

  abuse.py --url URL --pid PID --victim-key K --attacker-key K [--seconds S] [--scale F]
           [--max-connections N] [--only NAME,...] [--check]

--check exits 1 when a hard target is missed (new request at the connection limit answered
within 1 s, no stall, memory bounds); latency ratios are reported, not checked (the machine is
shared and noisy). Attackers connect from 127.0.0.2 and up, the victim from 127.0.0.1.
"""
import argparse
import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.parse

WORDS = ("alpha", "harbor", "granite", "meadow", "copper", "lantern", "orchard", "falcon")


def now():
    return time.monotonic()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def rss_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Target:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host = u.hostname
        self.port = u.port


def src_addr(i):
    """Attacker source addresses: 127.0.0.2 ... 127.0.0.33."""
    return "127.0.0.%d" % (2 + i % 32)


def request(t, method, path, key=None, body=None, timeout=10, conn=None, src="127.0.0.1"):
    """One request; returns (status, seconds, body bytes). Status 0: transport error."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(t.host, t.port, timeout=timeout,
                                          source_address=(src, 0))
    hdrs = {}
    if key:
        hdrs["Authorization"] = "Bearer " + key
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    t0 = now()
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        st = r.status
    except (OSError, http.client.HTTPException):
        st, data = 0, b""
        conn.close()
    dt = now() - t0
    if own:
        conn.close()
    return st, dt, data


class Victim:
    """Searches its own tenant in a loop on one kept-alive connection until stopped."""

    def __init__(self, t, key):
        self.t, self.key = t, key

    def run(self, seconds, max_requests=100000):
        lat, errors = [], 0
        conn = http.client.HTTPConnection(self.t.host, self.t.port, timeout=60)
        end = now() + seconds
        i = 0
        while now() < end and i < max_requests:
            q = WORDS[i % len(WORDS)]
            st, dt, _ = request(self.t, "GET", "/v1/search?type=text&limit=5&q=" + q,
                                self.key, conn=conn)
            if st == 200:
                lat.append(dt * 1000.0)
            else:
                errors += 1
                time.sleep(0.01)
            i += 1
        conn.close()
        return lat, errors


def _victim_child(url, key, seconds, q):
    q.put(Victim(Target(url), key).run(seconds))


def victim_run(victim, seconds):
    """Victim.run in a process of its own, so the attackers' threads (and Python's lock) do not
    slow the victim's client down: what it measures is the server."""
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    url = "http://%s:%d" % (victim.t.host, victim.t.port)
    p = ctx.Process(target=_victim_child, args=(url, victim.key, seconds, q), daemon=True)
    p.start()
    try:
        res = q.get(timeout=seconds + 120)
    except Exception:
        res = ([], 1)
    p.join(10)
    return res


class Attack:
    """Runs fn(stop_event) in n threads; fn must return when stop is set (or on its own)."""

    def __init__(self, fn, n):
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=fn, args=(self.stop, i), daemon=True)
                        for i in range(n)]
        self.results = []

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for th in self.threads:
            th.join(30)


# ---- scenarios --------------------------------------------------------------------------------

def keepalive_flood(t, n, stop, info, deadline_s):
    """n kept-alive connections, each re-sending GET /healthz as soon as it is answered."""
    sel = selectors.DefaultSelector()
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    socks = []
    for i in range(n):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.bind((src_addr(i), 0))
            s.connect((t.host, t.port))
            s.setblocking(False)
            s.send(req)
        except OSError:
            s.close()
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    info["opened"] = len(socks)
    answered = 0
    end = now() + deadline_s
    while not stop.is_set() and now() < end:
        for k, _ in sel.select(0.1):
            s = k.fileobj
            try:
                d = s.recv(65536)
            except OSError:
                d = b""
            if not d:
                sel.unregister(s)
                s.close()
                # Reconnect (bounded by the loop's time): a client that keeps the pressure on.
                ns = socket.socket()
                ns.settimeout(1)
                try:
                    ns.bind((src_addr(answered), 0))
                    ns.connect((t.host, t.port))
                    ns.setblocking(False)
                    ns.send(req)
                    sel.register(ns, selectors.EVENT_READ)
                except OSError:
                    ns.close()
                continue
            answered += d.count(b"HTTP/1.1 ")
            try:
                s.send(req)
            except OSError:
                pass
    info["answered"] = answered
    for k in list(sel.get_map().values()):
        k.fileobj.close()


def sc_conn_limit(a, t, victim):
    """Keep-alive clients fill every connection slot (and more); a new authenticated client."""
    n = a.max_connections + a.max_connections // 16
    info = {}
    stop = threading.Event()
    th = threading.Thread(target=keepalive_flood, args=(t, n, stop, info, a.seconds + 30),
                          daemon=True)
    th.start()
    time.sleep(min(3.0, 0.5 + n / 500.0))
    probes = []
    vres = {}
    vt = threading.Thread(target=lambda: vres.update(r=victim_run(victim, a.seconds)),
                          daemon=True)
    vt.start()
    statuses = []
    for _ in range(5):
        st, dt, _ = request(t, "GET", "/v1/whoami", a.victim_key, timeout=5)
        probes.append(dt if st == 200 else float("inf"))
        statuses.append(st)
        time.sleep(0.2)
    vt.join(a.seconds + 60)
    stop.set()
    th.join(60)
    worst = max(probes)
    extra = "conns=%d flood_answers=%d new_request_max=%.3fs probes=%s" % (
        info.get("opened", 0), info.get("answered", 0), worst,
        ",".join("%d:%.3f" % (st, dt) for st, dt in zip(statuses, probes)))
    ok = worst <= 1.0 and info.get("answered", 0) > info.get("opened", 0)
    return vres.get("r", ([], 0)), extra, ok


def sc_slowloris(a, t, victim):
    """Connections that send one header line every second and never finish the head."""
    n = max(16, int(300 * a.scale))
    cut = [0]

    def loris(stop, i):
        socks = []
        for j in range(n // 8):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.bind((src_addr(i * 64 + j), 0))
                s.connect((t.host, t.port))
                s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                s.close()
        end = now() + a.seconds + 20
        while not stop.is_set() and now() < end and socks:
            time.sleep(1)
            for s in list(socks):
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    socks.remove(s)
                    s.close()
                    cut[0] += 1
        for s in socks:
            s.close()

    with Attack(loris, 8):
        time.sleep(1)
        res = victim_run(victim, a.seconds)
        probes = [request(t, "GET", "/v1/whoami", a.victim_key, timeout=10) for _ in range(6)]
        ok_probes = sum(1 for p in probes if p[0] == 200)
        time.sleep(max(0, a.head_timeout + 2 - a.seconds))
    return res, "loris=%d cut_by_server=%d legit_ok=%d/6" % (n, cut[0], ok_probes), ok_probes == 6


def sc_unauth_upload(a, t, victim):
    """Unauthenticated uploads that announce 11 MB, send 1 MB and stall; memory during/after."""
    n = max(16, int(1000 * a.scale))
    quiet = rss_mb(a.pid)
    peak = [quiet]
    refused = [0]
    chunk = b"x" * 65536

    def uploader(stop, i):
        socks = []
        for j in range(n // 8):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.bind((src_addr(i * 64 + j), 0))
                s.connect((t.host, t.port))
                s.send(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       b"application/json\r\nContent-Length: 11000000\r\n\r\n")
                for _ in range(16):
                    s.send(chunk)
            except OSError:
                refused[0] += 1
                s.close()
                continue
            socks.append(s)
        end = now() + a.seconds
        while not stop.is_set() and now() < end:
            time.sleep(0.2)
        for s in socks:
            s.close()

    def watch(stop, i):
        end = now() + a.seconds + 30
        while not stop.is_set() and now() < end:
            peak[0] = max(peak[0], rss_mb(a.pid))
            time.sleep(0.05)

    with Attack(watch, 1):
        with Attack(uploader, 8):
            res = victim_run(victim, a.seconds)
        time.sleep(2)
    after = rss_mb(a.pid)
    # The growth is what the uploads cost (a sanitizer build starts far above 256 MB): the issue's
    # target is under 256 MB in all for a release build, which starts at about 40 MB.
    ok = a.no_memory_target or (peak[0] - quiet < 64 and after <= quiet * 1.1 + 8)
    return res, "uploads=%d rss_quiet=%.0fMB peak=%.0fMB after=%.0fMB" % (
        n, quiet, peak[0], after), ok


def sc_metrics_flood(a, t, victim):
    """Many clients polling /metrics and /readyz (200 connections at scale 1)."""
    n = max(4, int(200 * a.scale))
    count = [0]

    def poller(stop, i):
        conn = http.client.HTTPConnection(t.host, t.port, timeout=30,
                                          source_address=(src_addr(i), 0))
        end = now() + a.seconds + 10
        k = 0
        while not stop.is_set() and now() < end and k < 100000:
            request(t, "GET", "/metrics" if k % 2 == 0 else "/readyz", conn=conn)
            k += 1
        count[0] += k
        conn.close()

    with Attack(poller, n):
        res = victim_run(victim, a.seconds)
    return res, "pollers=%d requests=%d" % (n, count[0]), True


def sc_noisy_search(a, t, victim):
    """Another tenant's read-only key: concurrent maximal hybrid searches. The server weighs a
    tenant's share by search cost (--search-slot-cost), so these run one at a time; a run with
    SERVE_ARGS='--search-slot-cost 1000000' shows them unweighted (one share slot each)."""
    text = " ".join(WORDS * 16)[:1000]
    q = urllib.parse.quote(text)
    # The maximal search (refused by the cost limit), and the costliest one allowed,
    # in the query string and in a JSON body.
    reqs = [("GET", "/v1/search?type=hybrid&candidates=1000&expand=true&max_variants=10"
             "&rerank=true&rerank_top_k=1000&limit=10&q=" + q, None),
            ("GET", "/v1/search?type=hybrid&candidates=1000&expand=true&max_variants=3"
             "&rerank=true&rerank_top_k=1000&limit=10&q=" + q, None),
            ("POST", "/v1/search", {"query": text, "type": "hybrid", "candidates": 1000,
                                    "expand": True, "max_variants": 3, "rerank": True,
                                    "rerank_top_k": 1000, "limit": 10})]
    codes = {}

    def searcher(stop, i):
        conn = http.client.HTTPConnection(t.host, t.port, timeout=120)
        end = now() + a.seconds + 5
        k = 0
        while not stop.is_set() and now() < end and k < 10000:
            method, path, body = reqs[(k + i) % len(reqs)]
            st, _, _ = request(t, method, path, a.attacker_key, body=body, conn=conn)
            codes[st] = codes.get(st, 0) + 1
            if st == 429:
                time.sleep(0.05)
            k += 1
        conn.close()

    with Attack(searcher, 8):
        time.sleep(0.5)
        res = victim_run(victim, a.seconds)
    return res, "statuses=%s" % json.dumps(codes, sort_keys=True), True


def sc_many_noisy(a, t, victim):
    """Several other tenants (--noisy-keys, each with documents), two connections each, sending
    the costliest searches the cost limit allows. Each tenant alone runs one at a time (its
    share, --search-slot-cost); together they are held to the server's search budget
    (--search-slots), which goes to the tenant holding least of it: the victim's searches never
    queue behind them. SERVE_ARGS='--search-slots 1000' shows them without the budget."""
    text = " ".join(WORDS * 16)[:1000]
    q = urllib.parse.quote(text)
    reqs = [("GET", "/v1/search?type=hybrid&candidates=1000&expand=true&max_variants=3"
             "&rerank=true&rerank_top_k=1000&limit=10&q=" + q, None),
            ("POST", "/v1/search", {"query": text, "type": "hybrid", "candidates": 1000,
                                    "expand": True, "max_variants": 3, "rerank": True,
                                    "rerank_top_k": 1000, "limit": 10})]
    keys = [k for k in a.noisy_keys.split(",") if k]
    if not keys:
        return ([], 1), "no --noisy-keys", False
    codes = {}
    lock = threading.Lock()

    def searcher(stop, i):
        key = keys[i % len(keys)]
        conn = http.client.HTTPConnection(t.host, t.port, timeout=120)
        end = now() + a.seconds + 5
        k = 0
        while not stop.is_set() and now() < end and k < 10000:
            method, path, body = reqs[(k + i) % len(reqs)]
            st, _, _ = request(t, method, path, key, body=body, conn=conn)
            with lock:
                codes[st] = codes.get(st, 0) + 1
            if st == 429:
                time.sleep(0.05)
            k += 1
        conn.close()

    with Attack(searcher, 2 * len(keys)):
        time.sleep(0.5)
        res = victim_run(victim, a.seconds)
    return res, "tenants=%d statuses=%s" % (len(keys), json.dumps(codes, sort_keys=True)), True


def sc_big_adds(a, t, victim):
    """Another tenant: concurrent large adds (write lock and workers held)."""
    size = int(2_000_000 * a.scale) + 10_000
    text = (" ".join(WORDS) + " ") * (size // 56)
    codes = {}

    def adder(stop, i):
        end = now() + a.seconds + 5
        k = 0
        while not stop.is_set() and now() < end and k < 50:
            st, _, _ = request(t, "POST", "/v1/documents", a.attacker_key,
                               body={"id_at_origin": "big-%d-%d" % (i, k), "name": "big",
                                     "content": text}, timeout=120)
            codes[st] = codes.get(st, 0) + 1
            k += 1

    with Attack(adder, 4):
        time.sleep(0.5)
        res = victim_run(victim, a.seconds)
    return res, "statuses=%s" % json.dumps(codes, sort_keys=True), True


SCENARIOS = [("conn_limit", sc_conn_limit), ("slowloris", sc_slowloris),
             ("unauth_upload", sc_unauth_upload), ("metrics_flood", sc_metrics_flood),
             ("noisy_search", sc_noisy_search), ("many_noisy", sc_many_noisy),
             ("big_adds", sc_big_adds)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--victim-key", required=True)
    p.add_argument("--attacker-key", required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--max-connections", type=int, default=1024)
    p.add_argument("--head-timeout", type=float, default=10)
    p.add_argument("--noisy-keys", default="",
                   help="comma-separated keys of other tenants (with documents) for many_noisy")
    p.add_argument("--only", default="")
    p.add_argument("--check", action="store_true")
    # A sanitizer build keeps freed memory in quarantine: its memory is reported, not checked.
    p.add_argument("--no-memory-target", action="store_true")
    a = p.parse_args()
    t = Target(a.url)
    victim = Victim(t, a.victim_key)
    only = set(x for x in a.only.split(",") if x)
    failed = []
    print("%-14s %9s %9s %9s %9s %7s %7s  %s" % ("scenario", "quiet_p50", "quiet_p95",
                                                 "p50", "p95", "ratio", "cpu_s", "measured"))
    for name, fn in SCENARIOS:
        if only and name not in only:
            continue
        base, _ = victim_run(victim, min(a.seconds, 5))
        c0 = cpu_s(a.pid)
        (lat, errs), extra, ok = fn(a, t, victim)
        c1 = cpu_s(a.pid)
        b95, d95 = pct(base, 95), pct(lat, 95)
        print("%-14s %9.1f %9.1f %9.1f %9.1f %7.1f %7.1f  %s victim_errors=%d n=%d" % (
            name, pct(base, 50), b95, pct(lat, 50), d95, d95 / b95 if b95 else float("nan"),
            c1 - c0, extra, errs, len(lat)), flush=True)
        if not ok or not lat:
            failed.append(name)
        # Let the server settle (closed connections, deadlines) before the next baseline.
        time.sleep(1)
    if failed:
        print("targets missed: " + ", ".join(failed))
    return 1 if (a.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
