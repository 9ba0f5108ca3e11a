#!/usr/bin/env python3
"""bench/abuse/seed.py URL VICTIM_KEY ATTACKER_KEY N [KEY...]: N small documents for each
tenant (the victim, the attacker, and the tenants of any further write keys)."""
import http.client
import json
import sys
import urllib.parse

WORDS = ("alpha", "harbor", "granite", "meadow", "copper", "lantern", "orchard", "falcon",
         "river", "stone", "window", "garden", "signal", "winter", "paper", "engine")


def main():
    url, vkey, akey, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    keys = [(vkey, "v"), (akey, "a")] + [(k, "n%d" % i) for i, k in enumerate(sys.argv[5:])]
    for key, tag in keys:
        for i in range(min(n, 5000)):
            words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(40)]
            body = {"id_at_origin": "%s-%d" % (tag, i), "name": "doc %d" % i,
                    "content": " ".join(words) + " document number %d." % i}
            conn.request("POST", "/v1/documents", body=json.dumps(body),
                         headers={"Authorization": "Bearer " + key,
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status not in (200, 201):
                sys.exit("seed: add answered %d" % r.status)
    conn.close()


if __name__ == "__main__":
    main()
