/**
 * Two headless Chromium pages of the demo page, forced onto different media nodes (a per-leg
 * share of one): each must see and hear the other, which only a link between the two nodes
 * can carry. The pages' own stats say what they decoded; mediasoup's stats on both nodes say
 * what crossed.
 */
import { flowingLinkStreams, peersOf } from '@strata/harness';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { demoState, demoStats, launchChromium, pageWaiter, remoteVideos } from '../helpers/demo-page.js';
import { REPO, waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'chromium-cascade';

describe('demo page in Chromium across two media nodes', { timeout: 180_000 }, () => {
  let region: Region;
  let browser: Browser;
  const pages: Page[] = [];
  const logs: string[] = [];

  /** Waits for `probe` in a page, printing the pages' console on a timeout. */
  const waitIn = pageWaiter(logs);

  before(async () => {
    const build = spawnSync('npm', ['run', '--silent', 'build:web', '-w', '@strata/signaling'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(build.status, 0, `build:web failed:\n${build.stdout}\n${build.stderr}`);
    region = await startRegion({ mediaNodes: 2, env: { SIGNALING_ROOM_LEG_SIZE: '1', SIGNALING_TURN: 'false' } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await region?.stop();
  });

  it('two pages on two nodes see and hear each other over the link', async () => {
    for (const name of ['Ada', 'Ben']) {
      const page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
      page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`[${name}] pageerror: ${e.message}`));
      await page.goto(`${region.httpUrl}/?room=${ROOM}&name=${name}`);
      pages.push(page);
      // One after the other: the second joiner finds the first leg full and opens one on the other node.
      await waitIn(`${name} joined`, async () => {
        const s = await demoState(page);
        if (s?.phase === 'failed') throw new Error(`page failed: ${s.errors.join('; ')}`);
        return s?.phase === 'joined' && s.producers.length === 2 ? s : undefined;
      });
    }
    const nodes = await peersOf(region, ROOM);
    assert.equal(new Set(nodes.values()).size, 2, `one peer per node: ${JSON.stringify([...nodes])}`);

    for (const page of pages) {
      const first = await waitIn('the remote video to have frames', async () => {
        const [v] = await remoteVideos(page);
        return v && v.width > 0 && v.currentTime > 0 ? v : undefined;
      });
      await waitIn('the remote video to keep playing', async () => {
        const [v] = await remoteVideos(page);
        return v && v.currentTime > first.currentTime + 1 && !v.paused ? v : undefined;
      });
      const inbound = await demoStats(page);
      const video = inbound.find((s) => s.kind === 'video');
      const audio = inbound.find((s) => s.kind === 'audio');
      assert.ok(video && video.framesDecoded! > 0 && video.frameWidth! > 0, `video decoded: ${JSON.stringify(video)}`);
      assert.ok(audio && audio.packetsReceived > 0, `audio received: ${JSON.stringify(audio)}`);
    }

    // Each page's audio and video cross the link, one way each, as both nodes' mediasoup counts it.
    const { sent, received } = await flowingLinkStreams(region, ROOM, ['media-1', 'media-2']);
    const count = (flows: typeof sent) => Object.fromEntries([...flows].map(([link, ids]) => [link, ids.size]).sort());
    assert.deepEqual(count(sent), { 'media-1>media-2': 2, 'media-2>media-1': 2 });
    assert.deepEqual(count(received), count(sent));
  });
});
