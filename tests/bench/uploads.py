"""The upload scenarios of tests/bench/run: bytes to AEP, aep-batchd against curl and wrk.

nginx over TLS on loopback (a second server in the same nginx) takes PUT and PATCH bodies of any
size and discards them, with keep-alive on, and answers the batch create (a fresh id each), the
file and batch actions and Catalog's status (a final `success`) with static bodies shaped like
AEP's. Tokens come from aep-emulator. Measured side by side, in the same run:

  wrk            PUTs of the daemon's part size over the same number of connections (the ceiling)
  aep-batchd     end to end: the entry in incoming/ to its record durable in done/
  curl -T        the same file to the same URL with the same headers (one process per file)

Every data file is read once before each measured run, so that all of them read from the page
cache, and the scenarios alternate (daemon, curl, daemon, ...) with the median of the rounds kept.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DATASET = "5c8c3c555033b814b69f947f"
MiB = 2**20
GiB = 2**30


# nginx's Lua module (libnginx-mod-http-lua), loaded by the bench's nginx.conf.
NGINX_MODULES = ("/usr/lib/nginx/modules/ndk_http_module.so",
                 "/usr/lib/nginx/modules/ngx_http_lua_module.so")


def nginx_server(port, ca, org_id, client_id):
    """The upload server block: everything the daemon calls for a full entry."""
    created = json.dumps({
        "id": "BATCHID", "imsOrg": org_id, "status": "loading", "created": 1795000000000,
        "updated": 1795000000000, "createdClient": client_id,
        "createdUser": client_id + "@AdobeID", "updatedUser": client_id + "@AdobeID",
        "relatedObjects": [{"type": "dataSet", "id": DATASET}], "version": "1.0.0",
        "inputFormat": {"format": "json"},
        "tags": {"acp_stagePath": ["acp_foundation_push/stage/BATCHID"]}})
    status = json.dumps({"BATCHID": {
        "status": "success", "recordCount": 1000, "failedRecordCount": 0, "errors": [],
        "relatedObjects": [{"type": "dataSet", "id": DATASET}], "imsOrg": org_id,
        "created": 1795000000000, "updated": 1795000000000, "version": "1.0.0"}})
    # A fresh batch id per create ($request_id: 32 hex digits); Catalog's answer names it back.
    created = created.replace("BATCHID", "$request_id")
    status = status.replace("BATCHID", "$1")
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {ca}/server.pem;
        ssl_certificate_key {ca}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        # Bodies of any size, read in 64 KiB pieces and thrown away before the answer (as AEP
        # answers once it holds the bytes; nginx's own discard, a `return`, answers before the
        # body is read, which wrk takes for the end of the request), on connections kept alive
        # for the whole run. Read this way nginx spends about the CPU its discard does.
        client_max_body_size 0;
        keepalive_requests 100000;
        default_type application/json;
        location = /data/foundation/import/batches {{
            return 201 '{created}';
        }}
        location ~ ^/data/foundation/import/batches/[^/]+/datasets/[^/]+/files/ {{
            if ($arg_action = INITIALIZE) {{ return 201 ''; }}
            if ($arg_action = COMPLETE) {{ return 200 ''; }}
            content_by_lua_block {{
                local sock = ngx.req.socket()
                local left = tonumber(ngx.var.content_length) or 0
                while left > 0 do
                    local data = sock:receiveany(math.min(left, 65536))
                    if not data then return ngx.exit(400) end
                    left = left - #data
                end
                return ngx.exit(200)
            }}
        }}
        location ~ ^/data/foundation/import/batches/[^/]+$ {{
            return 200 '';
        }}
        location ~ ^/data/foundation/catalog/batches/([^/]+)$ {{
            return 200 '{status}';
        }}
    }}
"""


def write_random(path, size, block):
    """A file of `size` bytes made of `block` (random bytes) over and over, each copy with its
    own first 8 bytes, so that no two parts are the same."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        done = 0
        while done < size:
            n = min(len(block), size - done)
            f.write(done.to_bytes(8, "little") + block[8:n] if n > 8 else block[:n])
            done += n


def warm(paths):
    """Reads every file whole, so that the run after reads from the page cache."""
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.read(8 * MiB):
                pass


class Uploads:
    def __init__(self, bench, api_base, ims_base, data):
        self.b = bench
        self.api = api_base
        self.ims = ims_base
        self.data = data
        self.data.mkdir(exist_ok=True)
        self.block = os.urandom(16 * MiB)
        self.runs = 0

    # -- inputs ----------------------------------------------------------------------------

    def files(self, folder, count, size):
        """count files of size bytes under data/folder; their paths relative to data/."""
        rel = []
        for i in range(count):
            p = Path(folder) / f"part-{i:05d}.bin"
            write_random(self.data / p, size, self.block)
            rel.append(str(p))
        return rel

    def config(self, name, spool, concurrency, part_size="64MiB"):
        cfg = json.loads(self.b.config(name, self.api, self.ims, spool, 16).read_text())
        cfg["queues"][0]["data_dir"] = str(self.data)
        cfg["upload"] = {"concurrency": concurrency, "part_size": part_size}
        # The static server answers `success` at once: polls as early as the daemon allows
        # ones, so that the wait for Catalog is not what is measured.
        cfg["track"] = {"poll_initial": "10ms", "poll_max": "10ms", "max_wait": "1h"}
        path = self.b.dir / f"{name}.yaml"
        path.write_text(json.dumps(cfg))
        return path

    # -- aep-batchd ------------------------------------------------------------------------

    def daemon(self, name, entries, concurrency, part_size="64MiB"):
        """--once over `entries` (each a list of paths under data/): the figures, checked."""
        self.runs += 1
        name = f"{name}-{self.runs}"
        spool = self.b.spool_path(name)
        tmp, inc = spool / "tmp", spool / "incoming"
        tmp.mkdir(parents=True)
        inc.mkdir()
        total = 0
        for i, files in enumerate(entries):
            (tmp / f"u{i:05d}").write_text(json.dumps({"datasetId": DATASET, "files": files}))
            os.rename(tmp / f"u{i:05d}", inc / f"u{i:05d}")
            total += sum((self.data / f).stat().st_size for f in files)
        warm([self.data / f for files in entries for f in files])
        cfg = self.config(name, spool, concurrency, part_size)
        out = self.b.dir / f"{name}.log"
        with open(out, "wb") as f:
            elapsed, cpu, _, rc = self.b.run_measured(
                [str(self.b.batchd), "--config", str(cfg), "--once"], stdout=f,
                stderr=subprocess.STDOUT)
        text = out.read_text(errors="replace")
        if rc != 0:
            raise RuntimeError(f"{name}: aep-batchd --once exited {rc}: {text[-2000:]}")
        done = sorted(os.listdir(spool / "done"))
        if len(done) != len(entries):
            raise RuntimeError(f"{name}: {len(done)} of {len(entries)} entries in done/: "
                               f"{text[-2000:]}")
        for d in done:
            rec = json.loads((spool / "done" / d).read_text())
            if rec.get("status") != "success" or len(rec.get("files", [])) == 0:
                raise RuntimeError(f"{name}: {d} recorded {rec}")
        peak = int(re.search(r"aep-batchd stopped .*peak_rss_kib=(\d+)", text).group(1)) * 1024
        shutil.rmtree(spool)
        return {"bytes": total, "files": sum(len(e) for e in entries), "elapsed_s": elapsed,
                "cpu_s": cpu, "peak_rss": peak}

    # -- curl ------------------------------------------------------------------------------

    def headers(self):
        return self.b.write_headers(self.ims, "upload-headers",
                                    "content-type: application/octet-stream\n")

    def url(self, remote):
        return (f"{self.api}/data/foundation/import/batches/01BENCHUPLOAD/datasets/{DATASET}"
                f"/files/{remote}")

    def curl(self, files, parallel):
        """curl -T per file (xargs -P `parallel` when more than one): the figures, checked."""
        warm([self.data / f for f in files])
        headers = self.headers()
        listing = self.b.dir / "curl-files"
        listing.write_text("".join(f + "\n" for f in files))
        # -w prints what each curl sent: checked below, so that no curl stopped early.
        script = self.b.shell_script("upload-curl.sh", f"""#!/bin/sh
cd "{self.data}"
xargs -P {parallel} -I{{}} curl -sS --fail -o /dev/null -w '%{{size_upload}}\\n' \\
    --cacert {self.b.ca}/ca.pem -H @{headers} -T {{}} '{self.url("")}{{}}' < "{listing}"
""")
        sent = self.b.dir / "curl-sent"
        with open(sent, "wb") as f:
            elapsed, cpu, _, rc = self.b.run_measured(["sh", str(script)], stdout=f)
        total = sum((self.data / f).stat().st_size for f in files)
        got = sum(int(x) for x in sent.read_text().split())
        if rc != 0 or got != total:
            raise RuntimeError(f"curl -T: rc {rc}, {got} of {total} bytes sent")
        return {"bytes": total, "files": len(files), "elapsed_s": elapsed, "cpu_s": cpu}

    # -- wrk -------------------------------------------------------------------------------

    def wrk(self, body_bytes, connections, seconds):
        """PUTs of body_bytes each over `connections` connections, as fast as they go."""
        script = self.b.dir / f"put-{body_bytes}.lua"
        script.write_text(
            'wrk.method = "PUT"\n'
            f'wrk.body = string.rep("a", {body_bytes})\n'
            'wrk.headers["content-type"] = "application/octet-stream"\n'
            'wrk.headers["Authorization"] = "Bearer bench-token"\n'
            f'wrk.headers["x-api-key"] = "{self.b.client_id}"\n'
            f'wrk.headers["x-gw-ims-org-id"] = "{self.b.org_id}"\n'
            'wrk.headers["x-sandbox-name"] = "prod"\n')
        t = max(1, min(connections, os.cpu_count()))
        elapsed, cpu, _, rc = self.b.run_measured(
            ["wrk", f"-t{t}", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s",
             str(script), self.url("wrk.bin")], stdout=open(self.b.dir / "wrk-put.out", "w"))
        text = (self.b.dir / "wrk-put.out").read_text()
        if rc != 0 or "Non-2xx" in text:
            raise RuntimeError(f"wrk PUT: rc {rc}: {text}")
        n = int(re.search(r"(\d+) requests in", text).group(1))
        if n == 0:
            raise RuntimeError(f"wrk PUT: no request completed in {seconds}s: {text}")
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        return {"requests": n, "body_bytes": body_bytes, "connections": connections,
                "mb_s": rate * body_bytes / 1e6, "cpu_s": cpu}


def per_gib(r):
    return r["cpu_s"] / (r["bytes"] / GiB)


def mb_s(r):
    return r["bytes"] / r["elapsed_s"] / 1e6


def median_run(results):
    """The run of median throughput among rounds of the same scenario."""
    return sorted(results, key=mb_s)[len(results) // 2]


def data_folder(bench, need):
    """Where the data files go: tmpfs when it has room (nothing to write back to a disk, for
    the daemon's syncs to wait on), else the scratch folder, synced once written."""
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if st.f_bavail * st.f_frsize > need + GiB:
            d = Path(tempfile.mkdtemp(prefix="aep-bench-data-", dir=shm))
            bench.scratch.append(d)
            return d, True
    except OSError:
        pass
    return bench.dir / "data", False


def sha256_alone(bench, path):
    """openssl dgst -sha256 of the file: the CPU a SHA-256 of these bytes costs on its own."""
    warm([path])
    elapsed, cpu, _, rc = bench.run_measured(["openssl", "dgst", "-sha256", str(path)],
                                             stdout=subprocess.DEVNULL)
    if rc != 0:
        raise RuntimeError(f"openssl dgst exited {rc}")
    return {"bytes": path.stat().st_size, "files": 1, "elapsed_s": elapsed, "cpu_s": cpu}


def run(bench, api_base, ims_base, quick):
    """Every upload scenario; the results as a dict."""
    sizes = {"large": (256 if quick else 1024) * MiB, "several": (32 if quick else 256) * MiB,
             "huge": (512 if quick else 4096) * MiB}
    n_small, n_mib = (400, 100) if quick else (2000, 400)
    need = sizes["large"] + 8 * sizes["several"] + sizes["huge"] + n_small * 64 * 1024 + n_mib * MiB
    data, on_tmpfs = data_folder(bench, need)
    u = Uploads(bench, api_base, ims_base, data)
    rounds = 1 if quick else 3
    r = {"data_on_tmpfs": on_tmpfs}
    log = bench.say
    log(f"uploads: writing {need / GiB:.1f} GiB of data files in {data}")
    big = u.files("large", 1, sizes["large"])
    several = u.files("several", 8, sizes["several"])
    small = u.files("small", n_small, 64 * 1024)
    mib1 = u.files("mib", n_mib, MiB)
    huge = u.files("huge", 1, sizes["huge"])
    if not on_tmpfs:
        os.sync()  # the bench's own writes are not the daemon's to wait for

    log("uploads: the ceiling, wrk PUTs of 64 MiB over 1 and 4 connections")
    r["wrk_1"] = u.wrk(64 * MiB, 1, 3 if quick else 8)
    r["wrk_4"] = u.wrk(64 * MiB, 4, 3 if quick else 8)
    log(f"  {r['wrk_1']['mb_s']:.0f} MB/s over 1, {r['wrk_4']['mb_s']:.0f} MB/s over 4")

    def side_by_side(key, what, daemon_entries, concurrency, curl_files, parallel):
        log(f"uploads: {what}, {rounds} round(s) each, alternating")
        ds, cs = [], []
        for _ in range(rounds):
            ds.append(u.daemon(key, daemon_entries, concurrency))
            cs.append(u.curl(curl_files, parallel))
        r[key] = {"daemon": median_run(ds), "curl": median_run(cs),
                  "daemon_mb_s": [mb_s(x) for x in ds], "curl_mb_s": [mb_s(x) for x in cs]}
        d, c = r[key]["daemon"], r[key]["curl"]
        log(f"  aep-batchd {mb_s(d):.0f} MB/s, {per_gib(d):.2f} CPU s/GiB; "
            f"curl {mb_s(c):.0f} MB/s, {per_gib(c):.2f} CPU s/GiB")

    side_by_side("large", "one large file by parts", [big], 4, big, 1)
    r["sha256"] = sha256_alone(bench, u.data / big[0])
    log(f"  SHA-256 of the same bytes alone (openssl dgst): {per_gib(r['sha256']):.2f} CPU s/GiB")
    side_by_side("several", "8 files at once", [several], 4, several, 4)
    per_entry = 20
    small_entries = [small[i:i + per_entry] for i in range(0, len(small), per_entry)]
    log(f"uploads: {len(small)} files of 64 KiB, {per_entry} per entry")
    r["small"] = {"daemon": u.daemon("small", small_entries, 16),
                  "curl": u.curl(small, 16)}
    log(f"  aep-batchd {r['small']['daemon']['files'] / r['small']['daemon']['elapsed_s']:.0f} "
        f"files/s, xargs -P 16 curl "
        f"{r['small']['curl']['files'] / r['small']['curl']['elapsed_s']:.0f} files/s")
    # Both memory runs with one file in flight (upload.concurrency 1), so that only the files'
    # size differs: with more in flight each file adds its buffers (the table's other runs).
    log("uploads: memory, one 4 GiB file, then 1 MiB files, one file in flight")
    r["mem_huge"] = u.daemon("huge", [huge], 1)
    r["mem_small"] = u.daemon("mib", [mib1[i:i + 20] for i in range(0, len(mib1), 20)], 1)
    log(f"  peak RSS {r['mem_huge']['peak_rss'] / MiB:.1f} MiB against "
        f"{r['mem_small']['peak_rss'] / MiB:.1f} MiB")
    r["sizes"] = sizes
    return r


def evaluate(r, target):
    """The upload targets, added with bench's target(name, value, limit, ok, fmt)."""
    lg, sv, sm = r["large"], r["several"], r["small"]
    d, c = lg["daemon"], lg["curl"]
    target("one large file: throughput vs curl -T", mb_s(d) / mb_s(c), "≥ 1.0 ×",
           mb_s(d) / mb_s(c) >= 1.0, "{:.2f} ×")
    target("one large file: CPU per GiB vs curl -T", per_gib(d) / per_gib(c), "≤ 1.0 ×",
           per_gib(d) <= per_gib(c), "{:.2f} ×")
    target("one large file: throughput vs wrk (1 connection)", mb_s(d) / r["wrk_1"]["mb_s"],
           "≥ 0.8 ×", mb_s(d) >= 0.8 * r["wrk_1"]["mb_s"], "{:.2f} ×")
    target("8 files at once vs xargs -P 4 curl -T", mb_s(sv["daemon"]) / mb_s(sv["curl"]),
           "≥ 1.0 ×", mb_s(sv["daemon"]) >= mb_s(sv["curl"]), "{:.2f} ×")
    fd = sm["daemon"]["files"] / sm["daemon"]["elapsed_s"]
    fc = sm["curl"]["files"] / sm["curl"]["elapsed_s"]
    target("64 KiB files/s vs xargs -P 16 curl -T", fd / fc, "≥ 20 ×", fd >= 20 * fc, "{:.1f} ×")
    huge, small = r["mem_huge"]["peak_rss"], r["mem_small"]["peak_rss"]
    target("peak RSS uploading 4 GiB", huge / MiB, "≤ 32 MiB", huge <= 32 * MiB, "{:.1f} MiB")
    target("peak RSS, 4 GiB file vs 1 MiB files", (huge - small) / MiB, "≤ 4 MiB",
           abs(huge - small) <= 4 * MiB, "{:+.1f} MiB")


def table(r):
    """Markdown lines for the results."""
    def row(name, x):
        rss = f"{x['peak_rss'] / MiB:.1f} MiB" if "peak_rss" in x else ""
        fps = f"{x['files'] / x['elapsed_s']:.0f}" if x["files"] >= 100 else ""
        return f"| {name} | {mb_s(x):.0f} | {fps} | {per_gib(x):.2f} | {rss} |"
    lines = ["| upload | MB/s | files/s | CPU s / GiB | peak RSS |", "|---|---:|---:|---:|---:|",
             f"| wrk, 64 MiB PUTs, 1 connection (ceiling) | {r['wrk_1']['mb_s']:.0f} | | | |",
             f"| wrk, 64 MiB PUTs, 4 connections (ceiling) | {r['wrk_4']['mb_s']:.0f} | | | |",
             row(f"aep-batchd, one {r['sizes']['large'] / GiB:g} GiB file", r["large"]["daemon"]),
             row("curl -T, the same file", r["large"]["curl"]),
             row(f"aep-batchd, 8 × {r['sizes']['several'] / MiB:g} MiB in one entry "
                 "(upload.concurrency 4)",
                 r["several"]["daemon"]),
             row("xargs -P 4 curl -T, the same files", r["several"]["curl"]),
             row(f"aep-batchd, {r['small']['daemon']['files']} × 64 KiB, 20 per entry "
                 "(upload.concurrency 16)",
                 r["small"]["daemon"]),
             row("xargs -P 16 curl -T, the same files", r["small"]["curl"]),
             row(f"aep-batchd, one {r['sizes']['huge'] / GiB:g} GiB file (upload.concurrency 1)",
                 r["mem_huge"]),
             row(f"aep-batchd, {r['mem_small']['files']} × 1 MiB, 20 per entry "
                 "(upload.concurrency 1)", r["mem_small"])]
    d, c, h = r["large"]["daemon"], r["large"]["curl"], r["sha256"]
    lines += ["", f"The record of a file carries the SHA-256 of the bytes sent, and aep-batchd hashes "
              f"every byte: `openssl dgst -sha256` of the same file alone takes {per_gib(h):.2f} "
              f"CPU s/GiB. aep-batchd's CPU per GiB less that is {per_gib(d) - per_gib(h):.2f} "
              f"(curl's: {per_gib(c):.2f}); curl -T and then a hash, for the same record, takes "
              f"{per_gib(c) + per_gib(h):.2f}."]
    rng = ", ".join
    lines += ["", f"Rounds (MB/s): one large file, aep-batchd "
              f"{rng(f'{x:.0f}' for x in r['large']['daemon_mb_s'])}, curl "
              f"{rng(f'{x:.0f}' for x in r['large']['curl_mb_s'])}; 8 files, aep-batchd "
              f"{rng(f'{x:.0f}' for x in r['several']['daemon_mb_s'])}, curl "
              f"{rng(f'{x:.0f}' for x in r['several']['curl_mb_s'])} (the median is kept). "
          f"Data files on {'tmpfs' if r['data_on_tmpfs'] else 'the scratch disk'}, read from "
          f"the page cache."]
    return lines


def plot_rows(r):
    """gnuplot rows: MB/s of each method."""
    rows = [("wrk ×1", r["wrk_1"]["mb_s"]), ("batchd 1 file", mb_s(r["large"]["daemon"])),
            ("curl -T", mb_s(r["large"]["curl"])), ("wrk ×4", r["wrk_4"]["mb_s"]),
            ("batchd 8 files", mb_s(r["several"]["daemon"])),
            ("curl -P4", mb_s(r["several"]["curl"]))]
    return "".join(f'"{label}" {v:.1f}\n' for label, v in rows)
