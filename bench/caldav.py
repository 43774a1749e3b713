"""The Python half of bench/caldav.sh: raw WebDAV requests and the table.

    caldav.py mkcol URL KIND           # KIND: calendar | tasks | contacts
    caldav.py count URL...             # prints how many items the collections hold
    caldav.py put-loop URL=DIR...      # the bare PUT loop; prints the number of PUTs
    caldav.py table RESULTS N...       # the result table of the runs in RESULTS,
                                       # N: the items of each collection

URLs are collection URLs ending with `/`. The login comes from the
variables BENCH_DAV_USER and BENCH_DAV_PASSWORD. Standard library only, so
that the bare loop costs what a minimal client costs.
"""

import base64
import http.client
import os
import re
import statistics
import sys
import urllib.parse
from collections import Counter
from pathlib import Path

# What stays unencoded in a path segment: the set snapsync uses too
# (src/endpoint/caldav/mod.rs, SEGMENT).
SEGMENT_SAFE = "-._~!$'()*+,;=:@"

MEDIA_TYPES = {".ics": "text/calendar", ".vcf": "text/vcard"}

MKCOL_TYPES = {
    "calendar": ("<C:calendar/>", "VEVENT"),
    "tasks": ("<C:calendar/>", "VTODO"),
    "contacts": ("<CR:addressbook/>", None),
}


def authorization():
    login = f"{os.environ['BENCH_DAV_USER']}:{os.environ['BENCH_DAV_PASSWORD']}"
    return "Basic " + base64.b64encode(login.encode()).decode()


def connect(url):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        sys.exit(f"caldav.py: only http:// URLs on loopback: {url}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def request(conn, method, url, headers, body=None):
    """One request on `conn`; returns (status, body)."""
    path = urllib.parse.urlsplit(url).path
    conn.request(method, path, body=body, headers={"Authorization": authorization(), **headers})
    response = conn.getresponse()
    return response.status, response.read()


def mkcol(url, kind):
    resourcetype, component = MKCOL_TYPES[kind]
    components = (
        "<C:supported-calendar-component-set>"
        f'<C:comp name="{component}"/></C:supported-calendar-component-set>'
        if component
        else ""
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" '
        'xmlns:CR="urn:ietf:params:xml:ns:carddav"><set><prop>'
        f"<resourcetype><collection/>{resourcetype}</resourcetype>{components}"
        "</prop></set></mkcol>"
    )
    status, answer = request(
        connect(url), "MKCOL", url, {"Content-Type": "application/xml; charset=utf-8"}, body.encode()
    )
    if status != 201:
        sys.exit(f"caldav.py: MKCOL {url}: HTTP {status}: {answer[:200]!r}")


def count(urls):
    total = 0
    for url in urls:
        status, answer = request(
            connect(url),
            "PROPFIND",
            url,
            {"Depth": "1", "Content-Type": "application/xml"},
            b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>',
        )
        if status != 207:
            sys.exit(f"caldav.py: PROPFIND {url}: HTTP {status}")
        # Every <response> but the collection's own.
        total += len(re.findall(rb"<(?:\w+:)?response>", answer)) - 1
    print(total)


def put_loop(pairs):
    """PUTs every file of each DIR into its collection URL, one after the
    other on one connection, create-only (If-None-Match: *). The connection
    is kept alive where the server allows; Radicale's built-in server
    answers HTTP/1.0 and closes it after each answer, and http.client then
    opens a new one, as every other client must."""
    puts = 0
    conn = None
    for pair in pairs:
        url, folder = pair.split("=", 1)
        conn = conn or connect(url)
        for file in sorted(Path(folder).iterdir()):
            media_type = MEDIA_TYPES.get(file.suffix)
            if media_type is None:
                continue
            target = url + urllib.parse.quote(file.name, safe=SEGMENT_SAFE)
            status, answer = request(
                conn,
                "PUT",
                target,
                {"If-None-Match": "*", "Content-Type": f"{media_type}; charset=utf-8"},
                file.read_bytes(),
            )
            if status not in (200, 201, 204):
                sys.exit(f"caldav.py: PUT {target}: HTTP {status}: {answer[:200]!r}")
            puts += 1
    print(puts)


# The table -------------------------------------------------------------

JOBS = [
    ("snapsync send", "write"),
    ("vdirsyncer send", "write"),
    ("bare PUT loop", "write"),
    ("snapsync get", "read"),
]


def read_results(path):
    """Rows of RESULTS: job, run, wall s, user s, sys s, peak RSS KiB,
    server CPU s, requests as METHOD=N,METHOD=N."""
    runs = {}
    for line in Path(path).read_text().splitlines():
        job, _run, wall, user, system, rss, server, requests = line.split("\t")
        methods = Counter()
        for entry in filter(None, requests.split(",")):
            method, n = entry.split("=")
            methods[method] = int(n)
        runs.setdefault(job, []).append(
            {
                "wall": float(wall),
                "client": float(user) + float(system),
                "rss": int(rss),
                "server": float(server),
                "requests": methods,
            }
        )
    return runs


def table(path, sizes):
    sizes = [int(n) for n in sizes]
    items = sum(sizes)
    runs = read_results(path)
    header = [
        "job",
        "wall s, median (min-max)",
        "items/s",
        "requests",
        "req/100 items",
        "client CPU ms/item",
        "server CPU ms/item",
        "peak RSS MiB",
    ]
    rows = []
    medians = {}
    for job, kind in JOBS:
        if job not in runs:
            continue
        done = runs[job]
        wall = statistics.median(r["wall"] for r in done)
        medians[job] = wall
        client = statistics.median(r["client"] for r in done)
        server = statistics.median(r["server"] for r in done)
        # The counts are the same in every run unless a request was retried.
        methods = Counter()
        for method in {m for r in done for m in r["requests"]}:
            methods[method] = round(statistics.median(r["requests"][method] for r in done))
        total = sum(methods.values())
        shown = " ".join(f"{m} {n}" for m, n in sorted(methods.items(), key=lambda e: -e[1]))
        rows.append(
            [
                job,
                f"{wall:.2f} ({min(r['wall'] for r in done):.2f}-{max(r['wall'] for r in done):.2f})",
                f"{items / wall:.0f}" if wall > 0 else "-",
                f"{total}: {shown}",
                f"{100 * total / items:.2f}" if kind == "read" else "-",
                f"{1000 * client / items:.2f}",
                f"{1000 * server / items:.2f}",
                f"{max(r['rss'] for r in done) / 1024:.0f}",
            ]
        )
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    for i, row in enumerate([header, *rows]):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    if "snapsync get" in runs:
        done = runs["snapsync get"]
        listings = statistics.median(r["requests"]["PROPFIND"] for r in done)
        fetches = statistics.median(r["requests"]["REPORT"] + r["requests"]["GET"] for r in done)
        least = sum(-(-n // 100) for n in sizes)
        print(
            f"snapsync get: {100 * listings / items:.2f} PROPFIND per 100 items listed, "
            f"{100 * fetches / items:.2f} REPORT or GET per 100 items fetched "
            f"(goal: at most 1 each; a multiget of 100 items per REPORT needs {least} REPORTs here)"
        )
    for job in ("snapsync send", "snapsync get"):
        if job in runs:
            done = runs[job]
            client = statistics.median(r["client"] for r in done)
            server = statistics.median(r["server"] for r in done)
            if server > 0:
                print(f"{job}: client CPU / server CPU {client / server:.2f}")
    send = medians.get("snapsync send")
    for other in ("bare PUT loop", "vdirsyncer send"):
        if send and medians.get(other):
            print(
                f"writes, snapsync / {other}: {send / medians[other]:.2f}x "
                "(median wall time, same items, same empty collections)"
            )


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "mkcol" and len(args) == 2:
        mkcol(*args)
    elif command == "count" and args:
        count(args)
    elif command == "put-loop" and args:
        put_loop(args)
    elif command == "table" and len(args) >= 2:
        table(args[0], args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
