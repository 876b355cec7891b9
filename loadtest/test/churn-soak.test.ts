/**
 * The churn soak, short: a few hundred joins and leaves in small rooms through the real
 * runner against a real region, then every count of what the region holds must be back to its
 * baseline (taken after one warm-up join): KV messages and subjects of the three buckets'
 * streams, NATS subscriptions, the gateway's and media node's own counts. Timings are not
 * judged here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRegion, type Region } from '@strata/harness';
import type { LeftoverCounts, LeftoverDiff } from '../src/leftovers.js';
import { run, type RunResult, type ScriptModule } from '../src/runner.js';
import { ServerSampler, withChildren } from '../src/server-sampler.js';

// The scenario reads its size when it loads. Requests get 30 s: on a loaded 2-core machine a
// request may wait seconds, and this test is about what is left behind, not about speed.
Object.assign(process.env, { CHURN_JOINS: '300', CHURN_WARMUP: '1', CHURN_RATE: '50', CHURN_HOLD: '0.5', CHURN_REQUEST_TIMEOUT: '30' });

describe('churn soak (short)', () => {
  let region: Region;
  let result: RunResult;
  let diff: LeftoverDiff[];
  let leftovers: LeftoverCounts;
  let baseline: LeftoverCounts;
  const logs: string[] = [];

  before(async () => {
    const script = (await import('../scenarios/churn-soak.js')) as ScriptModule;
    region = await startRegion({ region: 'churn', env: { LOG_LEVEL: 'warn', SIGNALING_TURN: 'false', ...script.regionOptions?.env } });
    const sampler = new ServerSampler(500);
    const gw = region.processes.find((p) => p.kind === 'signaling')?.pid as number;
    const media = region.processes.find((p) => p.kind === 'media')?.pid as number;
    sampler.watch('gateway', gw);
    sampler.watch('media', withChildren(media));
    sampler.watch('nats-server', region.nats.process.pid);
    result = await run({
      script,
      target: {
        wsUrl: region.wsUrl,
        region: region.region,
        mintToken: (o) => region.mintToken(o),
        natsUrl: region.natsUrl,
        natsMonitorUrl: region.natsMonitorUrl,
      },
      sampler,
      log: (l) => logs.push(l),
    });
    const td = result.summary.extra['teardown'] as { leftovers: LeftoverCounts; diff: LeftoverDiff[] };
    assert.ok(td, 'teardown counted the leftovers');
    ({ diff, leftovers } = td);
    baseline = result.summary.extra['leftovers_baseline'] as LeftoverCounts;
  });

  after(async () => {
    await region?.stop();
  });

  it('ran every join, without errors', () => {
    assert.equal(result.summary.metrics['joins']?.['count'], 300, result.text);
    assert.equal(result.summary.metrics['iteration_errors'], undefined, `${logs.join('\n')}\n${result.text}`);
    assert.equal(result.summary.metrics['checks']?.['fails'], 0);
  });

  it('sampled the server processes', () => {
    const procs = result.summary.server?.processes ?? {};
    for (const name of ['gateway', 'media', 'nats-server']) {
      assert.ok((procs[name]?.samples ?? 0) > 1, `${name} sampled`);
      assert.ok((procs[name]?.rss_max ?? 0) > 0, `${name} RSS`);
    }
  });

  it('leaves no session, room, router, transport, producer, consumer or timer behind', () => {
    assert.equal(leftovers.nodes.signaling, 1);
    assert.equal(leftovers.nodes.media, 1);
    const live = diff.filter((d) => d.what.startsWith('gateway ') || d.what.startsWith('media '));
    assert.deepEqual(live, [], `gateway ${JSON.stringify(leftovers.gateway)}, media ${JSON.stringify(leftovers.media)}`);
  });

  it('leaves no NATS subscription behind', () => {
    assert.notEqual(baseline.natsSubscriptions, undefined, 'nats-server monitoring answered');
    assert.deepEqual(
      diff.filter((d) => d.what.startsWith('nats ')),
      [],
      `by connection: ${JSON.stringify(leftovers.natsSubscriptionsByConnection)} (baseline ${JSON.stringify(baseline.natsSubscriptionsByConnection)})`,
    );
  });

  it('leaves no KV key or delete marker behind', () => {
    assert.deepEqual(
      diff.filter((d) => d.what.startsWith('KV_')),
      [],
      `KV streams ${JSON.stringify(leftovers.kv)} (baseline ${JSON.stringify(baseline.kv)})`,
    );
  });
});
