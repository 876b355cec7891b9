/**
 * Rewrites the benchmark table of docs/benchmarks.md from the result files in bench/results/.
 *
 *   npm run bench:report                      rewrite the table
 *   npm run bench:report -- --check           exit 1 if the table is not what the files say
 *   npm run bench:report -- --results <dir> --doc <file>
 *
 * Formats: bench/lib/results.ts. Every .json file of the folder is read; a file that is neither
 * format, or a result missing a field, stops the run with the file's name.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadRows, renderTable, replaceTable } from './lib/results.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function main(): number {
  const { values } = parseArgs({
    options: {
      results: { type: 'string', default: join(ROOT, 'bench', 'results') },
      doc: { type: 'string', default: join(ROOT, 'docs', 'benchmarks.md') },
      check: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const rows = loadRows(values.results);
  const doc = readFileSync(values.doc, 'utf8');
  const next = replaceTable(doc, renderTable(rows));
  const counts = ['met', 'NOT MET', 'invalid', 'no goal'].map((s) => `${rows.filter((r) => r.status === s).length} ${s}`).join(', ');
  if (values.check) {
    if (next !== doc) {
      process.stderr.write(`${relative(process.cwd(), values.doc)}: the benchmark table is stale; run npm run bench:report\n`);
      return 1;
    }
    process.stdout.write(`benchmark table up to date: ${rows.length} figures (${counts})\n`);
    return 0;
  }
  writeFileSync(values.doc, next);
  process.stdout.write(`${relative(process.cwd(), values.doc)}: ${rows.length} figures (${counts})\n`);
  return 0;
}

process.exitCode = main();
