"""The daemon's requests checked against Adobe's official OpenAPI specs by Prism
(@stoplight/prism-cli): every create and look-up it sends must raise no request violation."""

import http.client
import json
import os
import re
import subprocess
import threading
import unittest

from harness import OPENAPI_DIR, World, wait_for

PRISM = os.environ.get("AEP_PRISM", "")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Prism:
    def __init__(self, spec, log_path):
        if not PRISM or not os.access(PRISM, os.X_OK):
            raise AssertionError("Prism is not installed: run tests/run, which installs "
                                 "@stoplight/prism-cli@5 and passes AEP_PRISM to ctest")
        if not spec.exists():
            raise AssertionError(f"the official spec {spec} is missing (set -DAEP_OPENAPI_DIR)")
        self.lines = []
        self.log_path = log_path
        self.proc = subprocess.Popen([PRISM, "mock", "-h", "127.0.0.1", "-p", "0", str(spec)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = wait_for(lambda: next((l for l in self.lines if "Prism is listening on" in l), None),
                        120, f"Prism to serve {spec.name}")
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(ANSI.sub("", line.rstrip("\n")))

    def output(self):
        return list(self.lines)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)
        self.log_path.write_text("\n".join(self.lines))


def docs_spec(official, out):
    """The batch-ingestion spec as Adobe's documentation has the uploads: the PUT of a file
    carries its bytes (the spec gives it no body at all) and a PATCH part its raw bytes (the spec
    says multipart/form-data), both as application/octet-stream. Everything else is the official
    text, so headers, parameters and the other calls are checked as they are."""
    lines = official.read_text().splitlines()
    start = lines.index("  /batches/{batchId}/datasets/{datasetId}/files/{filePath}:")
    put = lines.index("    put:", start)
    patch = lines.index("    patch:", put)
    body = ["      requestBody:", "        content:", "          application/octet-stream:",
            "            schema:", "              type: string", "              format: binary",
            "        required: true"]
    put_responses = lines.index("      responses:", put)
    patch_body = lines.index("      requestBody:", patch)
    patch_end = lines.index("        required: true", patch_body)
    lines = (lines[:put_responses] + body + lines[put_responses:patch_body] + body +
             lines[patch_end + 1:])
    out.write_text("\n".join(lines) + "\n")
    return out


def violations(lines):
    return [l for l in lines if "Violation: request" in l or ("request" in l and "✖" in l)]


class Contract(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)
        spec = docs_spec(OPENAPI_DIR / "batch-ingestion.yaml", self.world.dir / "batch-ingestion.docs.yaml")
        self.ingest = Prism(spec, self.world.dir / "prism-ingest.log")
        self.addCleanup(self.ingest.stop)
        self.catalog = Prism(OPENAPI_DIR / "catalog.yaml", self.world.dir / "prism-catalog.log")
        self.addCleanup(self.catalog.stop)

    def test_requests_validate_against_the_official_specs(self):
        w = self.world
        cfg = w.config(queues=[{"name": "json"}, {"name": "parquet", "input_format": {"format": "Parquet"}}],
                       import_url=f"http://127.0.0.1:{self.ingest.port}",
                       catalog_url=f"http://127.0.0.1:{self.catalog.port}")
        js, pq = w.spool("json"), w.spool("parquet")
        js.drop("bare", "5da9452f7de80400007jc52a")
        js.drop("tags", json.dumps({"datasetId": "ds1", "tags": {"team": ["a", "b"], "empty": []}}))
        js.drop("csv", json.dumps({"datasetId": "ds2", "inputFormat": {"format": "csv"}}))
        js.drop("multi", json.dumps({"datasetId": "ds3", "inputFormat": {"format": "JSON", "isMultiLineJson": True}}))
        js.drop("ext", json.dumps({"datasetId": "ds4", "externalId": "/adobe/bulkingest/mine-1?x=&y"}))
        pq.drop("default", "ds5")
        # Left in processing/ by a "crash": the daemon asks Catalog before creating it.
        (pq.path / "processing").mkdir(parents=True, exist_ok=True)
        (pq.path / "processing" / "resumed").write_text(json.dumps({"datasetId": "ds6", "externalId": "aepb-resumed"}))

        rc, log = w.run_once(cfg)
        self.assertEqual(rc, 0, log)
        self.assertEqual(js.count("done", ".json") + pq.count("done", ".json"), 7, log)
        self.assertEqual(js.names("failed") + pq.names("failed"), [])
        for rec in js.done_records() + pq.done_records():
            self.assertEqual(rec["batchId"], "01EQ1C48TR4GD4FE7NH2522TCQ")  # Prism's example

        ingest, catalog = self.ingest.output(), self.catalog.output()
        posts = [l for l in ingest if "post /batches" in l and "Request received" in l]
        self.assertEqual(len(posts), 7, "\n".join(ingest))
        lookups = [l for l in catalog if "get /batches" in l and "Request received" in l]
        self.assertEqual(len(lookups), 1, "\n".join(catalog))
        passed = [l for l in ingest + catalog if "The request passed the validation rules" in l]
        self.assertEqual(len(passed), 8, "\n".join(ingest + catalog))
        self.assertEqual(violations(ingest), [], "\n".join(ingest))
        self.assertEqual(violations(catalog), [], "\n".join(catalog))

    def test_a_full_entrys_requests_validate_but_for_the_specs_multipart_patch(self):
        # A full entry: a small file by PUT, a large one by INITIALIZE, two PATCH parts and
        # COMPLETE, the batch's COMPLETE, then Catalog's status. Prism answers with the spec's
        # examples; its status example is keyed by another batch id, so the entry ends at
        # stage track after its polls: only the requests are the point here. The uploads are
        # checked against the spec as the documentation has them (docs_spec), and a filePath
        # without folders: the spec's path parameter cannot hold a '/', which Adobe's
        # documentation allows (partitions such as date=2026-12-01/).
        w = self.world
        cfg = json.loads(w.config(queues=["json"], import_url=f"http://127.0.0.1:{self.ingest.port}",
                                  catalog_url=f"http://127.0.0.1:{self.catalog.port}",
                                  retry={"max_attempts": 2}).read_text())
        data = w.dir / "data"
        data.mkdir()
        (data / "small.json").write_text('{"a": 1}\n')
        (data / "large.json").write_bytes(b"x" * (1024 * 1024 + 512 * 1024) + b"\n")
        cfg["queues"][0]["data_dir"] = str(data)
        cfg["upload"] = {"large_file_threshold": "1MiB", "part_size": "1MiB"}
        cfg["track"] = {"poll_initial": "100ms", "poll_max": "200ms", "max_wait": "1m"}
        path = w.dir / "full.yaml"
        path.write_text(json.dumps(cfg))
        w.spool("json").drop("full", json.dumps(
            {"datasetId": "ds1", "files": ["small.json", {"path": "large.json", "remote": "date=2026-12-01.large.json"}]}))
        rc, log = w.run_once(path)
        ingest, catalog = self.ingest.output(), self.catalog.output()
        received = [l for l in ingest if "Request received" in l]
        batch = "/batches/01EQ1C48TR4GD4FE7NH2522TCQ"
        large = f"{batch}/datasets/ds1/files/date=2026-12-01.large.json "
        count = lambda what: sum(what in l for l in received)  # Prism logs no query string
        self.assertEqual(count(f"put {batch}/datasets/ds1/files/small.json "), 1, "\n".join(ingest) + log)
        self.assertEqual(count(f"post {large}"), 2, "INITIALIZE and COMPLETE of the large file")
        self.assertEqual(count(f"patch {large}"), 2, "two parts")
        self.assertEqual(count(f"post {batch} "), 1, "the batch's COMPLETE")
        passed = [l for l in ingest if "The request passed the validation rules" in l]
        self.assertEqual(len(passed), len(received), "\n".join(ingest))
        self.assertTrue(any("get /batches/01EQ1C48TR4GD4FE7NH2522TCQ" in l for l in catalog),
                        "\n".join(catalog))
        self.assertEqual(violations(ingest), [], "\n".join(ingest))
        self.assertEqual(violations(catalog), [], "\n".join(catalog))

    def test_the_check_detects_a_bad_request(self):
        # The negative control: a request that breaks the spec must show up as a violation,
        # or the test above would prove nothing.
        conn = http.client.HTTPConnection("127.0.0.1", self.ingest.port, timeout=30)
        conn.request("POST", "/batches", body=json.dumps({"datasetId": "d", "inputFormat": {"format": "json"}}),
                     headers={"content-type": "application/json", "accept": "application/json"})
        res = conn.getresponse()
        res.read()
        conn.close()
        self.assertNotEqual(res.status, 201)
        wait_for(lambda: violations(self.ingest.output()), 30, "Prism to report the violation")


if __name__ == "__main__":
    unittest.main()
