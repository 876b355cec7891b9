/**
 * The demo page in headless Chromium with `iceTransportPolicy: 'relay'` and only one of our
 * TURN server's URLs (`?relay=1&turn=udp`, `tcp`, then `tls`): two pages complete a call with
 * the SFU through the region's TURN service, and play each other's video. The browsers' own
 * stats say that the selected candidate pair of every transport is a relay one over that
 * transport; the TURN service's health says it holds the allocations. The TLS listener has the
 * service's self-signed development certificate, which this browser is told to accept.
 */
import { Health, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { RECORD_PEER_CONNECTIONS, demoState, demoStats, launchChromium, pageWaiter, untilRemoteVideoPlays } from '../helpers/demo-page.js';
import { REPO } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'chromium-turn';

/** The local candidate type of each open peer connection's selected pair, from getStats(). */
const SELECTED_CANDIDATE_TYPES = `(async () => {
  const out = [];
  for (const pc of globalThis.__strataPeerConnections || []) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pairId;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
    const pair = pairId && stats.get(pairId);
    const local = pair && stats.get(pair.localCandidateId);
    out.push(local ? local.candidateType + '/' + (local.relayProtocol || '') : 'none');
  }
  return out;
})()`;

describe('demo page in Chromium through TURN only', { timeout: 180_000 }, () => {
  let region: Region;
  let browser: Browser;
  const logs: string[] = [];
  const waitIn = pageWaiter(logs);

  before(async () => {
    const build = spawnSync('npm', ['run', '--silent', 'build:web', '-w', '@strata/signaling'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(build.status, 0, `build:web failed:\n${build.stdout}\n${build.stderr}`);
    region = await startRegion({
      services: ['signaling', 'media', 'turn'],
      // The SFU listens on 127.0.0.1: the relay must be allowed to reach loopback peers.
      env: { TURN_ALLOW_LOOPBACK_PEERS: 'true', TURN_LISTEN_IP: '127.0.0.1' },
    });
    browser = await launchChromium(['--ignore-certificate-errors']);
  });

  after(async () => {
    await browser?.close();
    await region?.stop();
  });

  for (const [turn, relayProtocol] of [
    ['udp', 'udp'],
    ['tcp', 'tcp'],
    ['tls', 'tls'],
  ] as const) {
    it(`two pages with only the ${turn} TURN URL and the relay policy call each other through it`, async () => {
      const room = `${ROOM}-${turn}`;
      const pages: Page[] = [];
      for (const name of ['Ada', 'Ben']) {
        const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
        page.on('console', (m) => logs.push(`[${turn} ${name}] ${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => logs.push(`[${turn} ${name}] pageerror: ${e.message}`));
        await page.addInitScript(RECORD_PEER_CONNECTIONS);
        await page.goto(`${region.httpUrl}/?room=${room}&name=${name}&relay=1&turn=${turn}`);
        pages.push(page);
        await waitIn(`${name} joined and publishing`, async () => {
          const s = await demoState(page);
          if (s?.phase === 'failed') throw new Error(`page failed: ${s.errors.join('; ')}`);
          return s?.phase === 'joined' && s.producers.length === 2 && s.transports.send === 'connected' ? s : undefined;
        });
      }
      for (const page of pages) {
        await untilRemoteVideoPlays(page, waitIn);
        const audio = (await demoStats(page)).find((s) => s.kind === 'audio');
        assert.ok(audio && audio.packetsReceived > 0, `audio received: ${JSON.stringify(audio)}`);
        // Both transports of the page, each on a relay candidate our TURN server allocated over that transport.
        const types = await page.evaluate<string[]>(SELECTED_CANDIDATE_TYPES);
        assert.deepEqual(types, [`relay/${relayProtocol}`, `relay/${relayProtocol}`], `selected local candidates: ${types.join(', ')}`);
      }
      const health = await region.bus.request(Health, subjects.health(region.region, 'turn', 'turn-1'), {});
      assert.ok(Number(health.checks['allocations']) >= 4, `TURN allocations: ${JSON.stringify(health.checks)}`);
      for (const page of pages) await page.context().close();
    });
  }
});
