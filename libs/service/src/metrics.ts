/**
 * Metrics in the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). A service hands the kit its
 * families as plain values read from counters it already keeps, so scraping costs nothing
 * between scrapes and there is no client library whose registry would outlive a test's process.
 */

export type MetricType = 'counter' | 'gauge';

export interface MetricSample {
  /** Label names and values; values are escaped by the formatter, names must be valid already. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; a counter's ends in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSample[];
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// Names starting with __ are reserved for Prometheus's own use.
const LABEL_NAME = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A family of one unlabelled sample, the common case. */
export function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'counter', samples: [{ value }] };
}

export function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'gauge', samples: [{ value }] };
}

/** HELP text: backslash and line feed are the only characters the format escapes there. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Go's ParseFloat spellings, which is what Prometheus reads: `+Inf`, `-Inf`, `NaN`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * The exposition text of `families`, each as `# HELP`, `# TYPE` and its samples, in the order
 * given. A family the format would reject (a bad or repeated name, a counter not named `*_total`
 * or going negative, a bad label name) throws: better a 500 that says which than a scrape that
 * Prometheus drops whole with a parse error.
 */
export function formatMetrics(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not valid`);
    if (seen.has(f.name)) throw new Error(`metric ${f.name} appears twice`);
    seen.add(f.name);
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`counter ${f.name} must be named *_total`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      if (f.type === 'counter' && !(s.value >= 0)) throw new Error(`counter ${f.name} has value ${s.value}`);
      lines.push(`${f.name}${formatLabels(f.name, s.labels)} ${formatValue(s.value)}`);
    }
  }
  // The format wants every line, the last one too, ended by a line feed.
  return lines.length ? `${lines.join('\n')}\n` : '';
}

function formatLabels(metric: string, labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return '';
  for (const [name] of pairs) if (!LABEL_NAME.test(name)) throw new Error(`label name ${JSON.stringify(name)} of ${metric} is not valid`);
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`;
}

/** What an HTTP server answers `GET /metrics` with, whichever server it is (the kit's, signaling's uWS app). */
export interface MetricsResponse {
  status: 200 | 500;
  contentType: string;
  body: string;
}

/**
 * Collects and formats the families for one scrape. A collector that throws, or a family the
 * formatter refuses, answers 500 with a JSON error and is logged: a broken metric must never
 * take down the process whose health it is meant to show.
 */
export function metricsResponse(collect: () => readonly MetricFamily[], onError: (err: unknown) => void): MetricsResponse {
  try {
    return { status: 200, contentType: METRICS_CONTENT_TYPE, body: formatMetrics(collect()) };
  } catch (err) {
    onError(err);
    const message = err instanceof Error ? err.message : String(err);
    return { status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'INTERNAL', message: `metrics failed: ${message}` } }) };
  }
}

/** What the kit knows of every service process, whatever its kind. */
export interface ProcessMetricsInput {
  kind: string;
  region: string;
  node: string;
  version: string;
  /** The event loop's utilisation over the last heartbeat interval (EventLoopLoad), if one has been measured. */
  eventLoop: number | undefined;
  /** The load score of the last heartbeat. */
  loadScore: number | undefined;
}

export function processMetrics(p: ProcessMetricsInput): MetricFamily[] {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const families: MetricFamily[] = [
    counter(
      'process_cpu_seconds_total',
      'User and system CPU time spent by this process (not its child processes), in seconds.',
      (cpu.user + cpu.system) / 1e6,
    ),
    gauge('process_resident_memory_bytes', 'Resident memory of this process, in bytes.', mem.rss),
    // RSS alone cannot tell live objects from the heap V8 keeps after a burst, nor either from native memory (sockets, buffers).
    gauge('nodejs_heap_size_total_bytes', 'Size of the V8 heap, in bytes.', mem.heapTotal),
    gauge('nodejs_heap_size_used_bytes', 'Bytes of the V8 heap in use by objects.', mem.heapUsed),
    gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript objects (Buffers among them), in bytes.', mem.external),
    // timeOrigin is when this Node.js process started, in ms since the epoch.
    gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', Math.round(performance.timeOrigin) / 1000),
    {
      name: 'strata_service_info',
      help: 'Always 1; labels say which Strata service this process is.',
      type: 'gauge',
      samples: [{ labels: { kind: p.kind, region: p.region, node: p.node, version: p.version }, value: 1 }],
    },
  ];
  // Both are measured once per heartbeat, not per scrape: a scrape sampling the event loop
  // itself would shorten the window the next heartbeat measures.
  if (p.eventLoop !== undefined)
    families.push(gauge('nodejs_eventloop_utilization', 'Share of time the event loop was busy over the last heartbeat interval, 0..1.', p.eventLoop));
  if (p.loadScore !== undefined)
    families.push(gauge('strata_load_score', 'Load score of the last heartbeat, 0..1: the share of the scarcest resource in use.', p.loadScore));
  return families;
}
