/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: it refuses what
 * Prometheus would refuse (and a little more), so a scrape that passes here is one a real
 * Prometheus would ingest whole, and a sample is found by name and labels, not by regex.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string | undefined;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export class PrometheusParseError extends Error {
  constructor(line: number, text: string, why: string) {
    super(`line ${line} ${JSON.stringify(text)}: ${why}`);
  }
}

/** The families of `text` by name, in the order they appeared; throws PrometheusParseError on the first bad line. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (text === '') return families;
  if (!text.endsWith('\n')) throw new PrometheusParseError(0, text.slice(-40), 'the last line is not ended by a line feed');
  const lines = text.slice(0, -1).split('\n');
  // The family whose lines are being read: a family's lines must all be together.
  let current: string | undefined;
  const closed = new Set<string>();
  const enter = (name: string, n: number, line: string): void => {
    if (name === current) return;
    if (closed.has(name)) throw new PrometheusParseError(n, line, `${name} appears again after other families`);
    if (current !== undefined) closed.add(current);
    current = name;
  };
  const seenSamples = new Set<string>();
  const typed = new Set<string>();

  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$/.exec(line);
      if (!m) return; // any other comment is allowed and means nothing
      const [, keyword, name, rest = ''] = m as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
      if (!METRIC_NAME.test(name)) throw new PrometheusParseError(n, line, `${name} is not a valid metric name`);
      enter(name, n, line);
      const family = families.get(name) ?? { name, type: 'untyped', help: undefined, samples: [] };
      if (keyword === 'HELP') {
        if (family.help !== undefined) throw new PrometheusParseError(n, line, 'a second HELP');
        family.help = unescape(rest, n, line, false);
      } else {
        if (typed.has(name)) throw new PrometheusParseError(n, line, 'a second TYPE');
        if (family.samples.length) throw new PrometheusParseError(n, line, 'TYPE after the samples it types');
        const type = rest.trim();
        if (!TYPES.has(type)) throw new PrometheusParseError(n, line, `unknown type ${JSON.stringify(type)}`);
        family.type = type;
        typed.add(name);
      }
      families.set(name, family);
      return;
    }
    const sample = parseSampleLine(line, n);
    const family = families.get(sample.name) ?? families.get(sample.name.replace(/_(bucket|sum|count)$/, ''));
    if (!family || !typed.has(family.name)) throw new PrometheusParseError(n, line, `no TYPE line before this sample of ${sample.name}`);
    if (family.name !== sample.name && family.type !== 'histogram' && family.type !== 'summary')
      throw new PrometheusParseError(n, line, `${sample.name} has no family (${family.name} is a ${family.type})`);
    enter(family.name, n, line);
    if (family.type === 'counter' && !(sample.value >= 0)) throw new PrometheusParseError(n, line, 'a counter below zero');
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSamples.has(key)) throw new PrometheusParseError(n, line, 'the same name and labels twice');
    seenSamples.add(key);
    family.samples.push(sample);
  });
  return families;
}

function parseSampleLine(line: string, n: number): ParsedSample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) throw new PrometheusParseError(n, line, 'neither a comment, a blank line nor a sample with a valid metric name');
  const name = m[1] as string;
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      if (line[pos] === '}') {
        pos++;
        break;
      }
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(pos));
      if (!l) throw new PrometheusParseError(n, line, `a bad label at column ${pos + 1}`);
      const label = l[1] as string;
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new PrometheusParseError(n, line, `${label} is not a valid label name`);
      if (label in labels) throw new PrometheusParseError(n, line, `label ${label} twice`);
      pos += l[0].length;
      let raw = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) throw new PrometheusParseError(n, line, `label ${label}'s value is not closed`);
        if (c === '"') break;
        if (c === '\\') {
          raw += c + (line[pos + 1] ?? '');
          pos += 2;
        } else {
          raw += c;
          pos++;
        }
      }
      pos++; // the closing quote
      labels[label] = unescape(raw, n, line, true);
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') throw new PrometheusParseError(n, line, `expected , or } at column ${pos + 1}`);
    }
  }
  const rest = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?$/.exec(line.slice(pos));
  if (!rest) throw new PrometheusParseError(n, line, 'no value (or junk after it)');
  return { name, labels, value: parseValue(rest[1] as string, n, line) };
}

function parseValue(s: string, n: number, line: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!FLOAT.test(s)) throw new PrometheusParseError(n, line, `${JSON.stringify(s)} is not a number`);
  return Number(s);
}

/** HELP text escapes `\\` and `\n`; label values also `\"`. Any other escape, or a bare quote in a label value, is an error. */
function unescape(raw: string, n: number, line: string, labelValue: boolean): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && labelValue) out += '"';
    else if (!labelValue)
      out += `\\${next ?? ''}`; // Prometheus keeps other backslashes in HELP as they are
    else throw new PrometheusParseError(n, line, `bad escape \\${next ?? ''} in a label value`);
  }
  return out;
}

/** The value of the sample of `name` whose labels include `labels`; throws when there is none or more than one. */
export function sampleValue(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no family ${name} (have ${[...families.keys()].join(', ')})`);
  const matches = family.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return (matches[0] as ParsedSample).value;
}

/** GET `<httpBase>/metrics`, checked for status and content type, and parsed. */
export async function scrape(httpBase: string): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`${httpBase}/metrics`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${httpBase}/metrics: ${res.status} ${body}`);
  const type = res.headers.get('content-type');
  if (type !== 'text/plain; version=0.0.4; charset=utf-8') throw new Error(`GET ${httpBase}/metrics: content-type ${type}`);
  return parsePrometheusText(body);
}
