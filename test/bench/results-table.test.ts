/** The benchmark table generator: both input formats, the verdicts, the document rewrite. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  RESULT_FORMAT,
  TABLE_END,
  TABLE_START,
  judge,
  loadRows,
  parseResultFile,
  renderTable,
  replaceTable,
  type BenchResult,
} from '../../bench/lib/results.js';
import { REPO } from '../helpers/processes.js';

const base: BenchResult = {
  benchmark: 'forwarding',
  figure: 'CPU per consumer, N=100',
  value: 0.066,
  baseline: 0.064,
  unit: '% core',
  goal: { maxRatio: 1.05 },
  machine: '2 cores',
  date: '2026-12-01T09:00:00.000Z',
};

/** A k6 --summary-export file, as k6 writes it, with the two targets as tagged submetrics. */
const k6 = {
  root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: {}, checks: {} },
  options: { summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'], summaryTimeUnit: '', noColor: false },
  state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: 80_000 },
  metrics: {
    join_latency: { avg: 8, min: 1, med: 6, max: 60, 'p(90)': 14, 'p(95)': 20, 'p(99)': 35 },
    'join_latency{target:strata}': { avg: 13, min: 5, med: 12, max: 55.6, 'p(90)': 22, 'p(95)': 27.5, 'p(99)': 40.1 },
    'join_latency{target:baseline}': { avg: 3, min: 1, med: 2.5, max: 23.9, 'p(90)': 3.5, 'p(95)': 4.1, 'p(99)': 6.1 },
    joins: { count: 4000, rate: 50 },
    checks: { passes: 4000, fails: 0, value: 1 },
  },
  strata: { benchmark: 'join-latency', machine: '2 cores', date: '2026-12-01T09:30:00Z', goals: { 'p(95)': { maxRatio: 10 } } },
};

describe('benchmark results', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('judges: met, NOT MET, no goal, and invalid for NaN, negative or zero figures', () => {
    assert.equal(judge(base, 'f').status, 'met');
    assert.equal(judge({ ...base, value: 0.07 }, 'f').status, 'NOT MET');
    assert.equal(judge({ ...base, goal: { minRatio: 1.1 } }, 'f').status, 'NOT MET');
    assert.equal(judge({ ...base, goal: undefined }, 'f').status, 'no goal');
    for (const bad of [{ value: Number.NaN }, { baseline: -0.01 }, { baseline: 0 }, { value: Number.POSITIVE_INFINITY }, { value: -0.066, baseline: -0.064 }]) {
      const row = judge({ ...base, ...bad }, 'f');
      assert.equal(row.status, 'invalid', JSON.stringify(bad));
      assert.ok(row.why.length > 0);
    }
    // An absolute floor on ours (a capacity): the baseline is context.
    const capacity = { ...base, value: 1300, baseline: 1400, unit: 'consumers/core', goal: { min: 1250 } };
    assert.equal(judge(capacity, 'f').status, 'met');
    assert.equal(judge({ ...capacity, value: 1200 }, 'f').status, 'NOT MET');
    assert.match(renderTable([judge(capacity, 'f')]), /\| ours ≥ 1250 consumers\/core \| \*\*met\*\* \|/);
    assert.deepEqual(parseResultFile(JSON.stringify({ format: RESULT_FORMAT, results: [capacity] }), 'c.json')[0]!.goal, { min: 1250 });
    const flagged = judge({ ...base, problems: ['1 window still anomalous after retries'] }, 'f');
    assert.equal(flagged.status, 'met');
    assert.deepEqual(flagged.why, ['1 window still anomalous after retries']);
  });

  it('reads a result file, with null standing for a figure JSON cannot hold', () => {
    const text = JSON.stringify({ format: RESULT_FORMAT, results: [base, { ...base, figure: 'N=250', value: null }], windows: [] });
    const rs = parseResultFile(text, 'forwarding.json');
    assert.equal(rs.length, 2);
    assert.deepEqual(rs[0], base);
    assert.ok(Number.isNaN(rs[1]!.value));
    assert.equal(judge(rs[1]!, 'forwarding.json').status, 'invalid');
    assert.throws(
      () => parseResultFile(JSON.stringify({ format: RESULT_FORMAT, results: [{ ...base, unit: undefined }] }), 'x.json'),
      /x.json: results\[0\]: "unit"/,
    );
    assert.throws(() => parseResultFile(JSON.stringify({ format: RESULT_FORMAT, results: [{ ...base, goal: { maxRatio: -1 } }] }), 'x.json'), /maxRatio/);
    assert.throws(() => parseResultFile('{nope', 'y.json'), /y.json: not JSON/);
    assert.throws(() => parseResultFile('{"hello": 1}', 'z.json'), /z.json: neither/);
  });

  it('reads a k6 summary export: each stat of the target against {target:baseline}', () => {
    const rs = parseResultFile(JSON.stringify(k6), 'join-latency.json');
    assert.deepEqual(
      rs.map((r) => [r.figure, r.value, r.baseline, r.goal?.maxRatio]),
      [
        ['join_latency p50', 12, 2.5, undefined],
        ['join_latency p95', 27.5, 4.1, 10],
        ['join_latency p99', 40.1, 6.1, undefined],
      ],
    );
    assert.ok(rs.every((r) => r.benchmark === 'join-latency' && r.unit === 'ms' && r.machine === '2 cores' && r.date === '2026-12-01T09:30:00Z'));
    // Without the strata block: named after the file, machine and date unknown.
    const { strata: _, ...bare } = k6;
    const plain = parseResultFile(JSON.stringify(bare), 'ws-join.json');
    assert.ok(plain.every((r) => r.benchmark === 'ws-join' && r.machine === 'unknown' && r.date === 'unknown' && r.goal === undefined));
    const { 'join_latency{target:baseline}': __, ...noBaseline } = k6.metrics;
    assert.throws(() => parseResultFile(JSON.stringify({ ...k6, metrics: noBaseline }), 'k.json'), /k.json: no metric with both/);
  });

  it("reads the load-test runner's goals that carry figures, with ratio and absolute bounds", () => {
    const exported = {
      metrics: { iterations: { count: 10 } },
      strata: { benchmark: 'join-storm', machine: '2 cores', date: '2026-12-01T10:00:00.000Z' },
      goals: [
        { name: 'gateway RSS ≤ 250 MB', ok: true, detail: '', figure: { value: 215, baseline: 160, unit: 'MB', max: 250 } },
        { name: 'CPU per request ≤ 3× echo', ok: false, detail: '', figure: { value: 470, baseline: 23, unit: 'µs', maxRatio: 3 } },
        { name: 'joins/s at p99 < 100 ms', ok: true, detail: '', figure: { value: 150, baseline: 200, unit: 'joins/s' } },
        { name: 'nothing left behind', ok: true, detail: 'no figure: not a row' },
        { name: 'broken', ok: false, detail: '', figure: { value: null, baseline: 1, unit: 'MB', max: 250 } },
      ],
    };
    const rows = parseResultFile(JSON.stringify(exported), 'join-storm.json').map((r) => judge(r, 'join-storm.json'));
    assert.deepEqual(
      rows.map((r) => [r.benchmark, r.figure, r.status]),
      [
        ['join-storm', 'gateway RSS ≤ 250 MB', 'met'],
        ['join-storm', 'CPU per request ≤ 3× echo', 'NOT MET'],
        ['join-storm', 'joins/s at p99 < 100 ms', 'no goal'],
        ['join-storm', 'broken', 'invalid'],
      ],
    );
    const over = judge({ ...rows[0]!, value: 251 }, 'x');
    assert.equal(over.status, 'NOT MET', 'an absolute budget holds whatever the ratio');
    assert.match(renderTable(rows), /ours ≤ 250 MB/);
  });

  it('renders one table and replaces only the marked block', () => {
    const rows = [
      judge(base, 'a.json'),
      judge({ ...base, figure: 'N=500', value: Number.NaN }, 'a.json'),
      judge({ ...base, benchmark: 'join-latency', figure: 'p95', value: 30, baseline: 4, unit: 'ms', goal: { maxRatio: 5 } }, 'b.json'),
    ];
    const table = renderTable(rows);
    const lines = table.split('\n');
    assert.equal(lines[0], '| benchmark | figure | ours | baseline | ours / baseline | goal | status | machine | date |');
    assert.equal(lines[2], '| forwarding | CPU per consumer, N=100 | 0.0660 % core | 0.0640 % core | 1.031 | ≤ 1.05 | **met** | 2 cores | 2026-12-01 |');
    assert.match(lines[3]!, /^\| forwarding \| N=500 \| NaN % core \| 0.0640 % core \| NaN \| ≤ 1.05 \| invalid \[1\] \|/);
    assert.match(lines[4]!, /^\| join-latency \| p95 \| 30.00 ms \| 4.00 ms \| 7.500 \| ≤ 5 \| \*\*NOT MET\*\* \|/);
    assert.match(table, /\n\[1\] flagged: a figure is not a number; ratio NaN$/);
    const shared = renderTable([
      judge({ ...base, notes: ['from a printed summary'] }, 'a'),
      judge({ ...base, figure: 'N=250', notes: ['from a printed summary'] }, 'a'),
    ]);
    assert.equal(shared.match(/\*\*met\*\* \[1\]/g)?.length, 2, 'rows with the same note share its number');
    assert.match(shared, /\n\[1\] from a printed summary$/);
    const doc = `# B\n\nintro\n\n${TABLE_START}\nold table\n${TABLE_END}\n\nrest\n`;
    const next = replaceTable(doc, table);
    assert.equal(next, `# B\n\nintro\n\n${TABLE_START}\n\n${table}\n\n${TABLE_END}\n\nrest\n`);
    assert.equal(replaceTable(next, table), next, 'idempotent');
    assert.throws(() => replaceTable('# no markers', table), /no <!-- bench:table -->/);
  });

  it('the table in docs/benchmarks.md is what bench/results/ says (fix: npm run bench:report)', () => {
    const doc = readFileSync(join(REPO, 'docs', 'benchmarks.md'), 'utf8');
    assert.equal(doc, replaceTable(doc, renderTable(loadRows(join(REPO, 'bench', 'results')))));
  });

  it('npm run bench:report rewrites the document from a results folder, and --check spots a stale one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-bench-results-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'forwarding.json'), JSON.stringify({ format: RESULT_FORMAT, results: [base] }));
    writeFileSync(join(dir, 'join-latency.json'), JSON.stringify(k6));
    writeFileSync(join(dir, 'notes.txt'), 'not a result');
    const doc = join(dir, 'benchmarks.md');
    writeFileSync(doc, `# Benchmarks\n\n${TABLE_START}\n${TABLE_END}\n`);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--conditions=strata-src', '--import', 'tsx', 'bench/results-table.ts', '--results', dir, '--doc', doc, ...args], {
        cwd: REPO,
        encoding: 'utf8',
      });
    const stale = cli('--check');
    assert.equal(stale.status, 1, stale.stderr);
    assert.match(stale.stderr, /stale/);
    const write = cli();
    assert.equal(write.status, 0, write.stderr);
    assert.match(write.stdout, /4 figures \(2 met, 0 NOT MET, 0 invalid, 2 no goal\)/);
    const text = readFileSync(doc, 'utf8');
    assert.equal(text, `# Benchmarks\n\n${TABLE_START}\n\n${renderTable(loadRows(dir))}\n\n${TABLE_END}\n`);
    assert.equal(cli('--check').status, 0);
    writeFileSync(join(dir, 'broken.json'), '{"metrics": {}}');
    const broken = cli();
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /broken.json: no metric/);
  });
});
