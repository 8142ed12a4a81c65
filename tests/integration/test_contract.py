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


def violations(lines):
    return [l for l in lines if "Violation: request" in l or ("request" in l and "✖" in l)]


class Contract(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.addCleanup(self.world.close)
        self.ingest = Prism(OPENAPI_DIR / "batch-ingestion.yaml", self.world.dir / "prism-ingest.log")
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
