/**
 * The configuration tables in the service READMEs are generated from the config specs; this
 * fails when a variable was added, removed or changed without regenerating them.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { configDocs, staleConfigDocs } from '../../scripts/config-docs.js';

describe('service README configuration tables', () => {
  it('match the config specs (fix: node --conditions=strata-src --import tsx scripts/config-docs.ts --write)', async () => {
    assert.deepEqual(await staleConfigDocs(), []);
  });

  it("show machine-dependent defaults as formulas, not this machine's values", async () => {
    const host = hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 32);
    for (const doc of await configDocs()) {
      assert.ok(doc.table.includes(`| \`${doc.kind}-<host>-<pid>\` |`), `${doc.readme}: STRATA_NODE_ID default`);
      assert.ok(!doc.table.includes(`${doc.kind}-${host}-${process.pid}`), `${doc.readme}: this machine's node id leaked`);
    }
  });
});
