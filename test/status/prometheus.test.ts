import { expect, test } from "bun:test";
import { Registry, escapeLabelValue, formatValue } from "../../src/status/prometheus.ts";

test("escapeLabelValue() escapes backslash, quote and newline", () => {
  expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
});

test("formatValue() writes infinities and NaN as Prometheus spells them", () => {
  expect([formatValue(Infinity), formatValue(-Infinity), formatValue(NaN), formatValue(0.5), formatValue(3)]).toEqual(["+Inf", "-Inf", "NaN", "0.5", "3"]);
});

test("Registry.expose() writes HELP and TYPE before samples, escaping HELP and labels", () => {
  const registry = new Registry();
  const counter = registry.counter({ name: "x_total", help: "Line one\nback\\slash", labelNames: ["path"] });
  counter.inc({ path: 'C:\\dir "q"\nnext' }, 2);
  expect(registry.expose()).toBe(
    '# HELP x_total Line one\\nback\\\\slash\n# TYPE x_total counter\nx_total{path="C:\\\\dir \\"q\\"\\nnext"} 2\n',
  );
});

test("Histogram.observe() fills cumulative buckets, +Inf, _sum and _count", () => {
  const registry = new Registry();
  const h = registry.histogram({ name: "d_seconds", help: "d", buckets: [0.1, 1, 10] });
  for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe({}, v);
  const lines = registry.expose().trim().split("\n");
  expect(lines).toEqual([
    "# HELP d_seconds d",
    "# TYPE d_seconds histogram",
    'd_seconds_bucket{le="0.1"} 2',
    'd_seconds_bucket{le="1"} 3',
    'd_seconds_bucket{le="10"} 4',
    'd_seconds_bucket{le="+Inf"} 5',
    "d_seconds_sum 55.65",
    "d_seconds_count 5",
  ]);
});

test("Histogram puts le after the metric's own labels", () => {
  const registry = new Registry();
  registry.histogram({ name: "h", help: "h", labelNames: ["kind"], buckets: [1] }).observe({ kind: "a" }, 2);
  expect(registry.expose()).toContain('h_bucket{kind="a",le="1"} 0\nh_bucket{kind="a",le="+Inf"} 1\nh_sum{kind="a"} 2\nh_count{kind="a"} 1');
});

test("Counter.inc() refuses a negative increment and a missing or unknown label", () => {
  const counter = new Registry().counter({ name: "c_total", help: "c", labelNames: ["a"] });
  expect(() => counter.inc({ a: "x" }, -1)).toThrow(RangeError);
  expect(() => counter.inc({})).toThrow('label "a" is missing');
  expect(() => counter.inc({ a: "x", b: "y" })).toThrow('unknown label "b"');
});

test("Registry refuses invalid names, reserved labels, unsorted buckets and duplicates", () => {
  const registry = new Registry();
  expect(() => registry.counter({ name: "9bad", help: "" })).toThrow(TypeError);
  expect(() => registry.gauge({ name: "g", help: "", labelNames: ["__x"] })).toThrow(TypeError);
  expect(() => registry.histogram({ name: "h", help: "", labelNames: ["le"], buckets: [1] })).toThrow(TypeError);
  expect(() => registry.histogram({ name: "h2", help: "", buckets: [2, 1] })).toThrow(RangeError);
  registry.gauge({ name: "same", help: "" });
  expect(() => registry.gauge({ name: "same", help: "" })).toThrow("already registered");
});

test("Gauge.reset() drops every series", () => {
  const registry = new Registry();
  const g = registry.gauge({ name: "g", help: "g", labelNames: ["k"] });
  g.set({ k: "a" }, 1);
  g.reset();
  g.set({ k: "b" }, 2);
  expect(registry.expose()).toBe('# HELP g g\n# TYPE g gauge\ng{k="b"} 2\n');
});
