// The "Job storage" section: /status JSON, page HTML and /metrics series per backend, with the
// location shown but a credential in it never.

import { expect, test } from "bun:test";
import { redactor } from "../../src/log/redact.ts";
import { StorageStats } from "../../src/storage/storage-stats.ts";
import { storageSection } from "../../src/status/storage-section.ts";

function stats(): StorageStats {
  const s = new StorageStats("s3", "s3://bucket/edge-runner/");
  s.bytesWritten = 3 * 1024 * 1024;
  s.bytesRead = 1024;
  s.objectsAlive = 4;
  s.cleanupFailures = 2;
  s.cleanupsRetrying = 1;
  s.pendingSweeps = 3;
  s.sweptAttempts = 5;
  s.lastSweepAt = 1_000;
  s.lastError = "Cannot delete: AccessDenied for key-id-sekrit-123";
  return s;
}

test("the storage section shows bytes, objects alive, cleanup failures and sweeps in /status and /metrics", () => {
  const section = storageSection(stats());
  expect(section.key).toBe("storage");
  expect(section.json(redactor, 11_000)).toMatchObject({ backend: "s3", location: "s3://bucket/edge-runner/", bytesWritten: 3 * 1024 * 1024, bytesRead: 1024, objectsAlive: 4, cleanupFailures: 2, cleanupsRetrying: 1, pendingSweeps: 3, sweptAttempts: 5 });
  const metrics = section.metrics();
  expect(metrics).toContain('edge_runner_storage_written_bytes_total{backend="s3"} 3145728\n');
  expect(metrics).toContain('edge_runner_storage_read_bytes_total{backend="s3"} 1024\n');
  expect(metrics).toContain('edge_runner_storage_objects_alive{backend="s3"} 4\n');
  expect(metrics).toContain('edge_runner_storage_cleanup_failures_total{backend="s3"} 2\n');
  expect(metrics).toContain('edge_runner_storage_pending_sweeps{backend="s3"} 3\n');
  expect(metrics).toContain("# TYPE edge_runner_storage_cleanup_failures_total counter\n");
  const html = section.html(redactor, 11_000);
  expect(html).toContain("Job storage");
  expect(html).toContain("3.0 MiB / 1.0 KiB");
  expect(html).toContain("1 retrying");
  expect(html).toContain("last sweep 10 s ago");
});

test("a secret the redactor knows never shows in the storage section's error", () => {
  redactor.add("key-id-sekrit-123");
  const section = storageSection(stats());
  expect(JSON.stringify(section.json(redactor, 0))).not.toContain("key-id-sekrit-123");
  expect(section.html(redactor, 0)).not.toContain("key-id-sekrit-123");
});
