#!/usr/bin/env python3
"""Writes the sample PDFs (acme/roadmap.pdf, globex/supplier-code.pdf) by hand: PDF 1.4, one
Helvetica text object per page, exact xref offsets. Run from anywhere; the output is
deterministic, so the committed files only change when the text below does."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

DOCS = {
    "acme/roadmap.pdf": ("Acme Product Roadmap", [
        ["Acme Product Roadmap 2025",
         "",
         "Q1: single sign-on for all customer workspaces, and audit logs",
         "that security teams can export.",
         "Q2: the new billing engine with usage-based pricing.",
         "Q3: offline mode for the mobile apps.",
         "",
         "Every roadmap item has one owner on the product team."],
        ["Risks and dependencies",
         "",
         "The billing engine depends on the payments provider migration.",
         "Offline mode needs a new sync protocol; a spike is planned for March.",
         "Priorities are reviewed by the product council every quarter."],
    ]),
    "globex/supplier-code.pdf": ("Globex Supplier Code of Conduct", [
        ["Globex Supplier Code of Conduct",
         "",
         "Suppliers of Globex plants follow the same safety rules as our employees",
         "while on site, including lockout and tagout for maintenance work.",
         "Deliveries of hazardous chemicals need a safety data sheet.",
         "Suppliers must not offer gifts above 50 EUR to Globex staff.",
         "Report violations to the compliance office."],
    ]),
}


def esc(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build(title, pages):
    objs = []  # object bodies, numbered from 1

    def add(body):
        objs.append(body)
        return len(objs)

    catalog = add(None)
    pages_obj = add(None)
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "16 TL", "72 740 Td"]
        for i, line in enumerate(lines):
            if i:
                ops.append("T*")
            ops.append("(%s) Tj" % esc(line))
        ops.append("ET")
        stream = ("\n".join(ops) + "\n").encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream")
        page = add(("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                    "/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                    % (pages_obj, font, content)).encode())
        kids.append(page)
    objs[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objs[pages_obj - 1] = ("<< /Type /Pages /Kids [%s] /Count %d >>"
                           % (" ".join("%d 0 R" % k for k in kids), len(kids))).encode()
    info = add(("<< /Title (%s) /Producer (llmemory samples/make-pdf.py) >>" % esc(title)).encode())

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, catalog, info, xref)
    return bytes(out)


for rel, (title, pages) in DOCS.items():
    with open(os.path.join(HERE, rel), "wb") as f:
        f.write(build(title, pages))
