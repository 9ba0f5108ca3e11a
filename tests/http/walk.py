#!/usr/bin/env python3
"""A seeded random walk over the HTTP API with several tenants' keys (issue 12's property test,
through HTTP; tests/integration/adversarial_test.c is the library's).

Tenants are nested (a, a/x, a/y, b, ...) and share id_at_origin values. Every step is one random
call by one tenant (add, re-add, get, delete, delete many, delete by metadata, list, search,
statistics, or naming another tenant's owner_id), checked against a model of what each tenant
owns. After every step, every tenant lists its documents: exactly the model's, no more, no less
(nothing returned, counted, changed or deleted across tenants). Text and hybrid scores of a
fixed probe query of each tenant must not move while only other tenants' data changes (text,
vector and hybrid: run the server with --sync-embed, so that a tenant's vectors exist when its
add returns).

    walk.py --url URL --keys FILE --steps N --seed S
FILE has one "OWNER KEY" line per tenant (write-scope keys without sub-tenant rights). Only the
Python standard library is used. Ends with "walk: seed S, N steps, R requests, T s".
"""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse

ORIGINS = ["doc-%d" % i for i in range(6)]  # shared by every tenant
WORDS = "vacation policy remote work travel expense safety reactor budget plan office".split()


class Failure(Exception):
    pass


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = None
        self.requests = 0

    def call(self, method, path, key, body=None, query=None):
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = {"Authorization": "Bearer " + key}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        self.requests += 1
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            raise Failure("%s %s: status %d, body is not JSON: %r" % (method, path, r.status, raw[:200]))
        if r.status >= 500:
            raise Failure("%s %s: status %d: %s" % (method, path, r.status, raw[:300]))
        return r.status, js, raw.decode("utf-8", "replace")


class Walk:
    def __init__(self, client, tenants, rng):
        self.c = client
        self.t = tenants  # [(owner, key)]
        self.rng = rng
        self.docs = [dict() for _ in tenants]  # per tenant: origin -> {id, marker, walk}
        self.n = 0
        self.probe = [None] * len(tenants)  # last probe scores per tenant

    # ---- helpers ----------------------------------------------------------------------------
    def expect(self, cond, what, *ctx):
        if not cond:
            raise Failure(what + "".join("\n  " + str(x)[:600] for x in ctx))

    def all_ids(self, ti):
        return {d["id"] for d in self.docs[ti].values()}

    def owner_of(self, doc_id):
        for ti, docs in enumerate(self.docs):
            for o, d in docs.items():
                if d["id"] == doc_id:
                    return ti, o
        return None, None

    def random_doc(self):
        """(tenant, origin, doc) of a random existing document, or None."""
        pool = [(ti, o, d) for ti, docs in enumerate(self.docs) for o, d in docs.items()]
        return self.rng.choice(pool) if pool else None

    # ---- operations -------------------------------------------------------------------------
    def op_add(self, a):
        o = self.rng.choice(ORIGINS)
        self.n += 1
        marker = "wm%dq%dz" % (a, self.n)
        walk = self.rng.randrange(3)
        text = "%s %s %s." % (" ".join(self.rng.choice(WORDS) for _ in range(6)), marker,
                               " ".join(self.rng.choice(WORDS) for _ in range(4)))
        st, js, raw = self.c.call("POST", "/v1/documents", self.t[a][1], {
            "id_at_origin": o, "name": o, "content": text, "metadata": {"walk": walk}})
        self.expect(st in (200, 201), "add: status %d" % st, raw)
        old = self.docs[a].get(o)
        if old is not None:
            self.expect(st == 200 and js["document_id"] == old["id"] and js["created"] is False,
                        "re-add of %s did not update the tenant's own document" % o, raw)
        else:
            self.expect(st == 201 and js["created"] is True, "add of %s: not created" % o, raw)
            ti, _ = self.owner_of(js["document_id"])
            self.expect(ti is None, "add returned another tenant's document id", raw)
        self.expect(js["owner_id"] == self.t[a][0], "add: owner_id is not the key's", raw)
        self.docs[a][o] = {"id": js["document_id"], "marker": marker, "walk": walk}
        return {a}

    def op_get(self, a):
        x = self.random_doc()
        if x is None:
            return set()
        ti, o, d = x
        st, js, raw = self.c.call("GET", "/v1/documents/" + d["id"], self.t[a][1], query={"chunks": "true"})
        if ti == a:
            self.expect(st == 200 and d["marker"] in raw, "get of own document failed", st, raw)
        else:
            self.expect(st == 404 and d["marker"] not in raw and js["error"]["code"] == "not_found",
                        "get of another tenant's document was not a 404", st, raw)
        return set()

    def op_delete(self, a):
        x = self.random_doc()
        if x is None:
            return set()
        ti, o, d = x
        st, js, raw = self.c.call("DELETE", "/v1/documents/" + d["id"], self.t[a][1])
        if ti == a:
            self.expect(st == 200, "delete of own document: status %d" % st, raw)
            del self.docs[a][o]
            return {a}
        self.expect(st == 404, "delete of another tenant's document: status %d" % st, raw)
        return set()

    def op_delete_many(self, a):
        ids = [d["id"] for docs in self.docs for d in docs.values()]
        pick = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 4))) if ids else ["00000000-0000-4000-8000-000000000000"]
        st, js, raw = self.c.call("POST", "/v1/documents/delete", self.t[a][1], {"document_ids": pick})
        self.expect(st == 200, "delete many: status %d" % st, raw)
        own = self.all_ids(a)
        self.expect(set(js["deleted"]) == own & set(pick), "delete many deleted other than own", pick, raw)
        self.expect(set(js["not_found"]) == set(pick) - own, "delete many: not_found is wrong", raw)
        for o in [o for o, d in self.docs[a].items() if d["id"] in pick]:
            del self.docs[a][o]
        return {a}

    def op_delete_meta(self, a):
        w = self.rng.randrange(3)
        st, js, raw = self.c.call("POST", "/v1/documents/delete", self.t[a][1], {"metadata": {"walk": w}})
        self.expect(st == 200, "delete by metadata: status %d" % st, raw)
        want = {d["id"] for d in self.docs[a].values() if d["walk"] == w}
        self.expect(set(js["deleted"]) == want, "delete by metadata: deleted the wrong set", want, raw)
        self.docs[a] = {o: d for o, d in self.docs[a].items() if d["walk"] != w}
        return {a}

    def op_search(self, a):
        x = self.random_doc()
        q = x[2]["marker"] if x else "vacation"
        typ = self.rng.choice(["text", "vector", "hybrid"])
        st, js, raw = self.c.call("GET", "/v1/search", self.t[a][1], query={"q": q, "type": typ, "limit": 50})
        self.expect(st == 200, "search: status %d" % st, raw)
        got = {h["document_id"] for h in js["results"]}
        self.expect(got <= self.all_ids(a), "search returned another tenant's documents", got - self.all_ids(a))
        for ti, docs in enumerate(self.docs):
            if ti != a:
                for d in docs.values():
                    # (the reply echoes the query, which may be another tenant's marker)
                    self.expect(d["marker"] == q or d["marker"] not in raw,
                                "search shows another tenant's text", d["marker"], raw)
        if x and x[0] == a and typ == "text":
            self.expect(x[2]["id"] in got, "text search did not find the tenant's own document", q, raw)
        return set()

    def op_list(self, a):
        st, js, raw = self.c.call("GET", "/v1/documents", self.t[a][1],
                                  query={"limit": 100, "metadata": json.dumps({"walk": self.rng.randrange(3)})})
        self.expect(st == 200, "list with metadata: status %d" % st, raw)
        self.expect({d["document_id"] for d in js["documents"]} <= self.all_ids(a),
                    "filtered list returned another tenant's documents", raw)
        return set()

    def op_stats(self, a):
        st, js, raw = self.c.call("GET", "/v1/statistics", self.t[a][1])
        self.expect(st == 200 and js["document_count"] == len(self.docs[a]),
                    "statistics count other than the tenant's own documents", len(self.docs[a]), raw)
        return set()

    def op_foreign_owner(self, a):
        b = self.rng.randrange(len(self.t))
        if b == a:
            return set()
        other = self.t[b][0]
        kind = self.rng.randrange(4)
        if kind == 0:
            st, js, raw = self.c.call("GET", "/v1/documents", self.t[a][1], query={"owner_id": other})
        elif kind == 1:
            st, js, raw = self.c.call("GET", "/v1/search", self.t[a][1], query={"q": "vacation", "owner_id": other})
        elif kind == 2:
            st, js, raw = self.c.call("POST", "/v1/documents", self.t[a][1], {
                "owner_id": other, "id_at_origin": "doc-0", "name": "x", "content": "intruder text"})
        else:
            st, js, raw = self.c.call("POST", "/v1/documents/delete", self.t[a][1],
                                      {"owner_id": other, "metadata": {}})
        self.expect(st == 403, "naming another tenant's owner_id was not refused (status %d)" % st, raw)
        return set()

    # ---- invariants -------------------------------------------------------------------------
    def check_lists(self):
        for ti, (owner, key) in enumerate(self.t):
            st, js, raw = self.c.call("GET", "/v1/documents", key, query={"limit": 100})
            self.expect(st == 200, "list: status %d" % st, raw)
            got = {d["document_id"] for d in js["documents"]}
            want = self.all_ids(ti)
            self.expect(got == want and js["total"] == len(want),
                        "tenant %s lists other than its own documents" % owner,
                        "missing %s" % (want - got), "extra %s" % (got - want), raw)

    def probe_scores(self, ti):
        out = []
        for typ in ("text", "vector", "hybrid"):
            st, js, raw = self.c.call("GET", "/v1/search", self.t[ti][1],
                                      query={"q": "vacation policy budget", "type": typ, "limit": 20})
            self.expect(st == 200, "probe search: status %d" % st, raw)
            out.append(sorted((h["chunk_id"], round(h["score"], 9)) for h in js["results"]))
        return out

    def check_probes(self, changed):
        for ti in range(len(self.t)):
            if ti in changed or self.probe[ti] is None:
                self.probe[ti] = self.probe_scores(ti)
                continue
            now = self.probe_scores(ti)
            self.expect(now == self.probe[ti], "tenant %s's scores changed although only other "
                        "tenants' data changed" % self.t[ti][0], self.probe[ti], now)

    def step(self):
        a = self.rng.randrange(len(self.t))
        ops = [(self.op_add, 30), (self.op_get, 12), (self.op_delete, 8), (self.op_delete_many, 5),
               (self.op_delete_meta, 3), (self.op_search, 15), (self.op_list, 5), (self.op_stats, 5),
               (self.op_foreign_owner, 5)]
        op = self.rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
        changed = op(a)
        self.check_lists()
        if changed:
            self.check_probes(changed)
        return op.__name__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    tenants = [tuple(line.split()) for line in open(args.keys) if line.strip()]
    rng = random.Random(args.seed)
    w = Walk(Client(args.url), tenants, rng)
    t0 = time.monotonic()
    counts = {}
    for i in range(args.steps):
        try:
            name = w.step()
        except Failure as e:
            print("walk: step %d (seed %d) failed: %s" % (i + 1, args.seed, e))
            return 1
        counts[name] = counts.get(name, 0) + 1
    print("walk: seed %d, %d steps, %d requests, %.1f s, %d tenants; %s" % (
        args.seed, args.steps, w.c.requests, time.monotonic() - t0, len(tenants),
        ", ".join("%s %d" % (k[3:], v) for k, v in sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
