// A tiny Prometheus registry: counters, gauges and histograms with labels, exposed in the text
// format 0.0.4. No dependency, because the runner needs a dozen series and nothing more.

export type Labels = Readonly<Record<string, string>>;

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is added by the exposition. */
  buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values escape backslash, double quote and newline (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and newline only. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

abstract class Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge" | "histogram";
  // Keyed by the label values in `labelNames` order, so each series is found without sorting.
  protected readonly series = new Map<string, { labels: string[]; state: S }>();

  constructor(options: MetricOptions) {
    if (!METRIC_NAME.test(options.name)) throw new TypeError(`Cannot create metric "${options.name}": invalid metric name`);
    const labelNames = options.labelNames ?? [];
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new TypeError(`Cannot create metric "${options.name}": invalid label name "${label}"`);
      }
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  /** Forgets every series (for gauges rebuilt from a snapshot at each scrape). */
  reset(): void {
    this.series.clear();
  }

  protected entry(labels: Labels, init: () => S): S {
    const values = this.labelNames.map((name) => {
      const value = labels[name];
      if (typeof value !== "string") throw new TypeError(`Cannot update metric "${this.name}": label "${name}" is missing`);
      return value;
    });
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name)) throw new TypeError(`Cannot update metric "${this.name}": unknown label "${name}"`);
    }
    const key = JSON.stringify(values);
    let found = this.series.get(key);
    if (found === undefined) {
      found = { labels: values, state: init() };
      this.series.set(key, found);
    }
    return found.state;
  }

  protected labelText(values: readonly string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? "")}"`);
    if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
  }

  protected abstract sampleLines(): string[];

  expose(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.sampleLines()].join("\n");
  }
}

export class Counter extends Metric<{ value: number }> {
  readonly type = "counter" as const;

  inc(labels: Labels = {}, by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new RangeError(`Cannot increment counter "${this.name}" by ${by}: must be a finite number ≥ 0`);
    this.entry(labels, () => ({ value: 0 })).value += by;
  }

  /** Creates the series at 0 so `rate()` sees it before the first increment. */
  init(labels: Labels = {}): void {
    this.entry(labels, () => ({ value: 0 }));
  }

  get(labels: Labels = {}): number {
    return this.entry(labels, () => ({ value: 0 })).value;
  }

  protected sampleLines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${this.labelText(s.labels)} ${formatValue(s.state.value)}`);
  }
}

export class Gauge extends Metric<{ value: number }> {
  readonly type = "gauge" as const;

  set(labels: Labels, value: number): void {
    this.entry(labels, () => ({ value: 0 })).value = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => ({ value: 0 })).value += by;
  }

  protected sampleLines(): string[] {
    return [...this.series.values()].map((s) => `${this.name}${this.labelText(s.labels)} ${formatValue(s.state.value)}`);
  }
}

interface HistogramState {
  /** Per-bucket (non-cumulative) counts; the exposition accumulates them. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly type = "histogram" as const;
  readonly buckets: readonly number[];

  constructor(options: HistogramOptions) {
    super(options);
    if (this.labelNames.includes("le")) throw new TypeError(`Cannot create histogram "${options.name}": "le" is a reserved label`);
    const buckets = options.buckets.filter((b) => b !== Infinity);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw new RangeError(`Cannot create histogram "${options.name}": buckets must be finite and strictly increasing`);
    }
    this.buckets = buckets;
  }

  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) throw new RangeError(`Cannot observe NaN in histogram "${this.name}"`);
    const state = this.entry(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const index = this.buckets.findIndex((upper) => value <= upper);
    if (index >= 0) state.counts[index] = (state.counts[index] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  protected sampleLines(): string[] {
    const lines: string[] = [];
    for (const { labels, state } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((upper, i) => {
        cumulative += state.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${this.labelText(labels, ["le", formatValue(upper)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${this.labelText(labels, ["le", "+Inf"])} ${state.count}`);
      lines.push(`${this.name}_sum${this.labelText(labels)} ${formatValue(state.sum)}`);
      lines.push(`${this.name}_count${this.labelText(labels)} ${state.count}`);
    }
    return lines;
  }
}

type AnyMetric = Counter | Gauge | Histogram;

/** Holds metrics in registration order and renders them as one exposition. */
export class Registry {
  readonly #metrics = new Map<string, AnyMetric>();

  counter(options: MetricOptions): Counter {
    return this.#add(new Counter(options));
  }

  gauge(options: MetricOptions): Gauge {
    return this.#add(new Gauge(options));
  }

  histogram(options: HistogramOptions): Histogram {
    return this.#add(new Histogram(options));
  }

  #add<M extends AnyMetric>(metric: M): M {
    if (this.#metrics.has(metric.name)) throw new TypeError(`Cannot register metric "${metric.name}": already registered`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** The text exposition (format 0.0.4), ending with a newline as scrapers expect. */
  expose(): string {
    return [...this.#metrics.values()].map((m) => m.expose()).join("\n") + "\n";
  }
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
