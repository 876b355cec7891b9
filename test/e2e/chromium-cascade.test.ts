/**
 * Two headless Chromium pages of the demo page, forced onto different media nodes (a per-leg
 * share of one): each must see and hear the other, which only a link between the two nodes
 * can carry. The pages' own stats say what they decoded; mediasoup's stats on both nodes say
 * what crossed. Then one page's media node is killed: the page is moved to a live node and
 * both pages play each other again, without a reload.
 */
import { flowingLinkStreams, legsOf, peersOf } from '@strata/harness';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { demoState, demoStats, launchChromium, pageWaiter, untilRemoteVideoPlays } from '../helpers/demo-page.js';
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
    // A third node to move to when one dies; heartbeats often, so the death is noticed soon.
    region = await startRegion({ mediaNodes: 3, env: { SIGNALING_ROOM_LEG_SIZE: '1', SIGNALING_TURN: 'false', HEARTBEAT_INTERVAL: '500ms' } });
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
    const used = [...new Set(nodes.values())].sort();
    assert.equal(used.length, 2, `one peer per node: ${JSON.stringify([...nodes])}`);

    for (const page of pages) {
      await untilRemoteVideoPlays(page, waitIn);
      const inbound = await demoStats(page);
      const video = inbound.find((s) => s.kind === 'video');
      const audio = inbound.find((s) => s.kind === 'audio');
      assert.ok(video && video.framesDecoded! > 0 && video.frameWidth! > 0, `video decoded: ${JSON.stringify(video)}`);
      assert.ok(audio && audio.packetsReceived > 0, `audio received: ${JSON.stringify(audio)}`);
    }

    // Each page's audio and video cross the link, one way each, as both nodes' mediasoup counts it.
    const { sent, received } = await flowingLinkStreams(region, ROOM, used);
    assert.deepEqual(count(sent), { [`${used[0]}>${used[1]}`]: 2, [`${used[1]}>${used[0]}`]: 2 });
    assert.deepEqual(count(received), count(sent));
  });

  it('a page whose media node is killed is moved to a live one and plays again, without a reload', async () => {
    const [ada, ben] = pages as [Page, Page];
    const benId = (await demoState(ben))!.peerId!;
    const adaId = (await demoState(ada))!.peerId!;
    const dead = (await peersOf(region, ROOM)).get(benId)!;
    const oldProducers = new Set((await demoState(ben))!.producers.map((p) => p.producerId));
    const oldConsumers = new Set([...(await demoStats(ada)), ...(await demoStats(ben))].map((s) => s.consumerId));
    // A reload would lose this.
    for (const page of pages) await page.evaluate(() => Reflect.set(globalThis, 'notReloaded', true));
    region.processes.find((p) => p.kind === 'media' && p.name === dead)!.kill9();

    await waitIn('Ben moved to a live node', async () => {
      const node = (await peersOf(region, ROOM)).get(benId);
      return node && node !== dead ? node : undefined;
    });
    await waitIn('Ben publishing again on new producers', async () => {
      const s = await demoState(ben);
      return s?.phase === 'joined' && s.producers.length === 2 && s.producers.every((p) => !oldProducers.has(p.producerId)) ? s : undefined;
    });
    // Each page decodes the other again, on consumers made after the move.
    for (const [page, from] of [
      [ada, benId],
      [ben, adaId],
    ] as const) {
      const playing = async () => {
        const video = (await demoStats(page)).find((s) => s.peerId === from && s.kind === 'video' && !oldConsumers.has(s.consumerId));
        return video && video.framesDecoded! > 0 ? video : undefined;
      };
      const first = await waitIn(`frames from ${from} after the move`, playing);
      await waitIn(`more frames from ${from}`, async () => {
        const now = await playing();
        return now && now.framesDecoded! > first.framesDecoded! + 10 ? now : undefined;
      });
      const audio = (await demoStats(page)).find((s) => s.peerId === from && s.kind === 'audio' && !oldConsumers.has(s.consumerId));
      assert.ok(audio && audio.packetsReceived > 0, `audio from ${from} again: ${JSON.stringify(audio)}`);
    }
    for (const page of pages) {
      assert.equal(await page.evaluate(() => Reflect.get(globalThis, 'notReloaded')), true, 'the page was not reloaded');
      const s = (await demoState(page))!;
      assert.deepEqual(s.errors, [], `no error shown: ${s.errors.join('; ')}`);
      assert.equal(s.transports.recv, 'connected');
    }
    const live = (await legsOf(region, ROOM)) ?? [];
    assert.ok(!live.includes(dead), `no leg on ${dead}: ${live.join(', ')}`);
  });
});

const count = (flows: Map<string, Set<string>>) => Object.fromEntries([...flows].map(([link, ids]) => [link, ids.size]).sort());
