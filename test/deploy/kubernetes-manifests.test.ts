// deploy/kubernetes/: every object validates offline against the Kubernetes API schemas (the
// kubernetes-models package: types, required fields and formats, not unknown fields, so the
// settings that matter are also checked at their exact paths), the env and flags resolve through
// the real option table, and the drain fits inside the grace period. Never applied to a cluster.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";
import { envName, OPTIONS } from "../../src/config/options.ts";
import { resolveConfig } from "../../src/config/resolve.ts";

const DIR = join(import.meta.dir, "../../deploy/kubernetes");
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Service": Service,
};

// biome-ignore lint: manifests are untyped YAML
type Obj = any;

function load(file: string): Obj[] {
  const parsed = Bun.YAML.parse(readFileSync(join(DIR, file), "utf8")) as Obj;
  return (Array.isArray(parsed) ? parsed : [parsed]).filter((doc) => doc !== null);
}

function find(docs: Obj[], kind: string, name: string): Obj {
  const found = docs.find((doc) => doc.kind === kind && doc.metadata?.name === name);
  if (found === undefined) throw new Error(`No ${kind} "${name}" in the manifests`);
  return found;
}

/** The container's env (literal values; downward-API values as a placeholder) and args, resolved by the real option table. */
function resolvedConfig(container: Obj, scope: "runner" | "controller") {
  const env: Record<string, string> = {};
  // A value from a Secret (the database URL) gets a placeholder of the right shape.
  for (const entry of container.env ?? []) env[entry.name] = entry.value ?? (entry.valueFrom?.secretKeyRef !== undefined ? "postgres://edge@db.example:5432/edge" : entry.valueFrom?.fieldRef?.fieldPath === "status.podIP" ? "10.1.2.3" : "runners-0");
  // Kubernetes expands $(VAR) of variables defined earlier in the same env list.
  for (const name of Object.keys(env)) env[name] = (env[name] as string).replace(/\$\((\w+)\)/g, (all, ref: string) => env[ref] ?? all);
  const argv = ((container.args ?? []) as string[]).map((arg) => arg.replaceAll("$(POD_NAME)", env.POD_NAME ?? ""));
  return resolveConfig({ scopes: [scope], argv, env, readFile: () => "{}" }).config;
}

const runners = load("runners.yaml");
const controller = load("controller.yaml");
const replicas = load("controller-postgres.yaml");

describe("deploy/kubernetes", () => {
  test("every object validates against the Kubernetes schema of its kind", () => {
    const all = [...runners, ...controller, ...replicas];
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (const doc of all) {
      const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      if (model === undefined) throw new Error(`No schema for ${doc.apiVersion} ${doc.kind} "${doc.metadata?.name}"`);
      expect(() => new model(doc as never).validate()).not.toThrow();
    }
  });

  test("every EDGE_RUNNER_* variable is an option's (the resolver ignores unknown ones)", () => {
    const known = new Set(OPTIONS.map((spec) => envName(spec)));
    const names = [...runners, ...controller, ...replicas].flatMap((doc) => doc.spec?.template?.spec?.containers ?? []).flatMap((c: Obj) => (c.env ?? []).map((e: Obj) => e.name as string));
    const ours = names.filter((name) => name.startsWith("EDGE_RUNNER_"));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !known.has(name))).toEqual([]);
  });

  test("the validator refuses a broken object (the check can fail)", () => {
    const broken = structuredClone(find(runners, "StatefulSet", "runners"));
    broken.spec.template.spec.terminationGracePeriodSeconds = "ninety";
    expect(() => new StatefulSet(broken).validate()).toThrow();
  });

  test("runners: readiness /readyz, liveness /healthz, a preStop that drains, a grace above the drain timeout", () => {
    const set = find(runners, "StatefulSet", "runners");
    const pod = set.spec.template.spec;
    const runner = pod.containers.find((c: Obj) => c.name === "runner");
    const config = resolvedConfig(runner, "runner");
    const statusPort = runner.ports.find((p: Obj) => p.name === runner.readinessProbe.httpGet.port).containerPort;
    expect(statusPort).toBe(config.statusPort);
    expect(config.statusHost).toBe("0.0.0.0");
    expect(runner.readinessProbe.httpGet.path).toBe("/readyz");
    expect(runner.livenessProbe.httpGet.path).toBe("/healthz");
    expect(runner.lifecycle.preStop.exec.command.join(" ")).toContain("kill -TERM 1");
    expect(runner.command).toEqual(["/usr/local/bin/edge-runner", "run"]);
    expect(config.runnerId).toBe("runners-0");
    expect(config.apiKeyFile).toBe("/keys/api-key");
    // At least 20 s beyond the drain: the preStop loop and the runner's own exit fit in it.
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(config.drainTimeoutMs + 20_000);
  });

  test("the PodDisruptionBudget and the headless Service select the runner pods", () => {
    const set = find(runners, "StatefulSet", "runners");
    const labels = set.spec.template.metadata.labels;
    const pdb = find(runners, "PodDisruptionBudget", "runners");
    expect(pdb.spec.maxUnavailable).toBe(1);
    // A busy runner is not ready; the budget must not make a busy fleet unevictable.
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe("AlwaysAllow");
    for (const selector of [pdb.spec.selector.matchLabels, set.spec.selector.matchLabels, find(runners, "Service", set.spec.serviceName).spec.selector]) {
      for (const [key, value] of Object.entries(selector)) expect(labels[key]).toBe(value);
    }
  });

  test("controller: one replica on its journal volume, TLS, health probe, env from the option table", () => {
    const deployment = find(controller, "Deployment", "edge-runner-controller");
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe("Recreate");
    const container = deployment.spec.template.spec.containers[0];
    const config = resolvedConfig(container, "controller");
    expect(config.listenHost).toBe("0.0.0.0");
    expect(config.tlsCertFile).toBeDefined();
    expect(config.tlsKeyFile).toBeDefined();
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/health", scheme: "HTTPS" });
    const dataMount = container.volumeMounts.find((m: Obj) => m.mountPath === config.dataDir);
    const dataVolume = deployment.spec.template.spec.volumes.find((v: Obj) => v.name === dataMount.name);
    expect(find(controller, "PersistentVolumeClaim", dataVolume.persistentVolumeClaim.claimName)).toBeDefined();
  });

  test("controller on PostgreSQL: 2+ replicas, no volume claim, the database URL and password and the secrets key from Secrets as 0600 files", () => {
    const deployment = find(replicas, "Deployment", "edge-runner-controller");
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.strategy).toMatchObject({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } });
    const pod = deployment.spec.template.spec;
    expect(pod.volumes.some((v: Obj) => v.persistentVolumeClaim !== undefined)).toBe(false);
    expect(replicas.some((doc) => doc.kind === "PersistentVolumeClaim")).toBe(false);
    const container = pod.containers[0];
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e]));
    expect(env.EDGE_RUNNER_STORE_URL.valueFrom.secretKeyRef).toEqual({ name: "edge-runner-controller-db", key: "url" });
    const config = resolvedConfig(container, "controller");
    expect(config.storeUrl).toBeDefined();
    expect(config.tlsCertFile).toBeDefined();
    // Other replicas forward long-poll calls to this pod's own address (downward API).
    expect(env.POD_IP.valueFrom.fieldRef).toEqual({ fieldPath: "status.podIP" });
    expect(config.advertiseUrl).toBe("https://10.1.2.3:8780");
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/health", scheme: "HTTPS" });
    // Each secret file is a mode-0600 copy, in the memory volume, of a key of a Secret.
    const init = pod.initContainers[0].command.join(" ");
    const memory = pod.volumes.find((v: Obj) => v.emptyDir?.medium === "Memory");
    const memoryPath = container.volumeMounts.find((m: Obj) => m.name === memory.name).mountPath;
    const secretsOf = (volume: string) => pod.volumes.find((v: Obj) => v.name === volume).secret;
    for (const [file, secret, key] of [[config.storePasswordFile, "edge-runner-controller-db", "password"], [config.secretsKeyFile, "edge-runner-controller-secrets-key", "secrets.key"], [config.adminTokenFile, "edge-runner-controller-tls", "admin-token"]] as const) {
      expect(file?.startsWith(`${memoryPath}/`)).toBe(true);
      const copy = new RegExp(`install -m 0600 (/[\\w-]+)/${key.replace(".", "\\.")} ${file}`).exec(init);
      expect(copy).not.toBeNull();
      const source = pod.initContainers[0].volumeMounts.find((m: Obj) => m.mountPath === copy?.[1]);
      expect(secretsOf(source.name).secretName).toBe(secret);
      expect(secretsOf(source.name).items.some((item: Obj) => item.key === key)).toBe(true);
    }
  });

  test("controller on PostgreSQL: a budget keeps one replica through drains, the Service keeps a client on one replica", () => {
    const deployment = find(replicas, "Deployment", "edge-runner-controller");
    const labels = deployment.spec.template.metadata.labels;
    const pdb = find(replicas, "PodDisruptionBudget", "edge-runner-controller");
    expect(pdb.spec.minAvailable).toBe(1);
    const service = find(replicas, "Service", "edge-runner-controller");
    expect(service.spec.sessionAffinity).toBe("ClientIP");
    for (const selector of [pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, service.spec.selector]) {
      for (const [key, value] of Object.entries(selector)) expect(labels[key]).toBe(value);
    }
    // The runners' controllerUrl is this Service, as for the one-replica controller.
    const runner = find(runners, "StatefulSet", "runners").spec.template.spec.containers.find((c: Obj) => c.name === "runner");
    expect(resolvedConfig(runner, "runner").controllerUrl).toEqual([`https://${service.metadata.name}:${service.spec.ports[0].port}`]);
  });
});
