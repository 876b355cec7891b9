/**
 * The demo page in a real browser: Debian's headless Chromium (fake camera and microphone)
 * opens /?room=… twice against a real region; each page publishes VP8 simulcast + Opus and
 * must play the other's video. Also: a signaling drop in the browser resumes with a real ICE
 * restart (the browser's peer connections switch to the ICE parameters of the resume answer,
 * read from their SDP) and the video keeps playing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  RECORD_PEER_CONNECTIONS,
  demoState,
  demoStats,
  launchChromium,
  pageWaiter,
  remoteVideos,
  untilJoinedWithTwoTracks,
  type PageGlobals,
} from '../helpers/demo-page.js';
import { REPO, waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'chromium-demo';
const ARTIFACTS = join(REPO, 'test-artifacts');

interface PcIce {
  /** 'answer' for a send transport (mediasoup answers the browser's offer), 'offer' for a receive transport. */
  remoteType: string | undefined;
  remoteUfrags: string[];
  localUfrags: string[];
}

/**
 * The ICE ufrags in the local and remote descriptions of each open peer connection of a page.
 * A string, not a callback: tsx would wrap a callback's inner functions in a helper the page lacks.
 */
const READ_PEER_CONNECTION_ICE = `(() => {
  const ufrags = (d) => [...((d && d.sdp) || '').matchAll(/^a=ice-ufrag:(\\S+)/gm)].map((m) => m[1]);
  return (globalThis.__strataPeerConnections || [])
    .filter((pc) => pc.signalingState !== 'closed')
    .map((pc) => ({ remoteType: pc.remoteDescription ? pc.remoteDescription.type : undefined, remoteUfrags: ufrags(pc.remoteDescription), localUfrags: ufrags(pc.localDescription) }));
})()`;
const peerConnectionIce = (page: Page): Promise<PcIce[]> => page.evaluate<PcIce[]>(READ_PEER_CONNECTION_ICE);

interface WsFrame {
  id?: number;
  ok?: boolean;
  data?: { transports?: { transportId: string; direction: 'send' | 'recv'; iceParameters: { usernameFragment: string } }[]; resumeToken?: string };
}

const state = demoState;
const stats = demoStats;

describe('demo page in headless Chromium', { timeout: 180_000 }, () => {
  let region: Region;
  let browser: Browser;
  const pages: Page[] = [];
  const logs: string[] = [];
  /** Every frame the gateway sent each page, as the browser received it. */
  const received = new Map<Page, WsFrame[]>();

  /** Waits for `probe` in a page, printing the pages' console on a timeout. */
  const waitIn = pageWaiter(logs);

  before(async () => {
    // The gateway reads public/demo.js at start-up: build it first, from the current sources.
    const build = spawnSync('npm', ['run', '--silent', 'build:web', '-w', '@strata/signaling'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(build.status, 0, `build:web failed:\n${build.stdout}\n${build.stderr}`);
    region = await startRegion();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await region?.stop();
  });

  it('two pages join one room and each plays the other one’s video', async () => {
    for (const name of ['Alice', 'Bob']) {
      // A context per page: separate profiles, like two people.
      const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      await context.addInitScript({ content: RECORD_PEER_CONNECTIONS });
      const page = await context.newPage();
      const frames: WsFrame[] = [];
      received.set(page, frames);
      page.on('websocket', (ws) =>
        ws.on('framereceived', ({ payload }) => {
          if (typeof payload === 'string') frames.push(JSON.parse(payload) as WsFrame);
        }),
      );
      page.on('console', (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`[${name}] pageerror: ${e.message}`));
      await page.goto(`${region.httpUrl}/?room=${ROOM}&name=${name}`);
      pages.push(page);
    }
    for (const page of pages) await untilJoinedWithTwoTracks(page, waitIn);
    const [alice, bob] = pages as [Page, Page];
    const aliceState = (await state(alice))!;
    const bobState = (await state(bob))!;
    assert.deepEqual(
      aliceState.peers.map((p) => p.name),
      ['Bob'],
    );
    assert.deepEqual(
      bobState.peers.map((p) => p.name),
      ['Alice'],
    );

    for (const [page, other] of [
      [alice, bobState],
      [bob, aliceState],
    ] as const) {
      const first = await waitIn('the remote video to have frames', async () => {
        const [v] = await remoteVideos(page);
        return v && v.width > 0 && v.currentTime > 0 ? v : undefined;
      });
      assert.equal(first.peerId, other.peerId);
      assert.equal(first.label, other.name);
      const later = await waitIn(
        'the remote video to keep playing',
        async () => {
          const [v] = await remoteVideos(page);
          return v && v.currentTime > first.currentTime + 1 ? v : undefined;
        },
        15_000,
      );
      assert.ok(!later.paused);
      const inbound = await stats(page);
      const video = inbound.find((s) => s.kind === 'video');
      const audio = inbound.find((s) => s.kind === 'audio');
      assert.ok(video && video.framesDecoded! > 0 && video.frameWidth! > 0, `video decoded: ${JSON.stringify(video)}`);
      assert.ok(audio && audio.packetsReceived > 0, `audio received: ${JSON.stringify(audio)}`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: join(ARTIFACTS, 'chromium-demo.png') });
  });

  it('the VP8 producer is simulcast: consumers are of type simulcast and report layers', async () => {
    const [alice] = pages as [Page];
    const s = await waitIn(
      'layers reported',
      async () => {
        const st = await state(alice);
        const v = st?.consumers.find((c) => c.kind === 'video');
        return v && v.spatialLayer !== null ? v : undefined;
      },
      20_000,
    );
    assert.equal(s.type, 'simulcast');
    assert.ok(s.spatialLayer! >= 0 && s.spatialLayer! <= 2);
    const audio = (await state(alice))!.consumers.find((c) => c.kind === 'audio');
    assert.equal(audio?.type, 'simple');
  });

  it('a signaling drop in the browser resumes (real ICE restart) and video keeps playing', async () => {
    const [alice, bob] = pages as [Page, Page];
    const iceBefore = await peerConnectionIce(alice);
    assert.equal(iceBefore.length, 2, 'a send and a receive peer connection');
    assert.deepEqual((await state(alice))!.iceRestarts, { send: 0, recv: 0 });
    await alice.evaluate(() => (globalThis as unknown as PageGlobals).strataDemo?.dropConnection());
    const resumed = await waitIn(
      'alice to resume',
      async () => {
        const s = await state(alice);
        return s && s.reconnects === 1 && s.connection === 'connected' ? s : undefined;
      },
      20_000,
    );
    assert.equal(resumed.consumers.length, 2);

    // A real ICE restart: the browser now uses the ICE parameters the resume answer carried.
    // (mediasoup keeps accepting the old ones, so media flowing on does not prove this.)
    const resumeAnswer = received.get(alice)!.find((f) => f.ok === true && f.data?.transports !== undefined && f.data.resumeToken !== undefined);
    assert.ok(resumeAnswer, 'the browser received the resume answer');
    const fresh = new Map(resumeAnswer.data!.transports!.map((t) => [t.direction, t.iceParameters.usernameFragment]));
    assert.deepEqual([...fresh.keys()].sort(), ['recv', 'send']);
    const remote = (pcs: PcIce[], direction: 'send' | 'recv'): string[] =>
      pcs.find((p) => p.remoteType === (direction === 'send' ? 'answer' : 'offer'))?.remoteUfrags ?? [];
    const local = (pcs: PcIce[], direction: 'send' | 'recv'): string[] =>
      pcs.find((p) => p.remoteType === (direction === 'send' ? 'answer' : 'offer'))?.localUfrags ?? [];
    // Restarting ICE also renews the browser's own credentials (the receive side sets the remote
    // offer first and its answer after, so both are waited for).
    await waitIn('the new ICE parameters in both peer connections, and new local credentials', async () => {
      const pcs = await peerConnectionIce(alice);
      return (['send', 'recv'] as const).every(
        (d) =>
          remote(pcs, d).length > 0 &&
          remote(pcs, d).every((u) => u === fresh.get(d)) &&
          local(pcs, d).length > 0 &&
          local(pcs, d).every((u) => !local(iceBefore, d).includes(u)),
      )
        ? pcs
        : undefined;
    });
    for (const d of ['send', 'recv'] as const) assert.ok(!remote(iceBefore, d).includes(fresh.get(d)!), `${d}: the resume handed out new ICE parameters`);
    assert.deepEqual((await state(alice))!.iceRestarts, { send: 1, recv: 1 }, 'one ICE restart per transport');
    assert.deepEqual((await state(bob))!.iceRestarts, { send: 0, recv: 0 }, 'bob did not restart anything');
    for (const page of [alice, bob]) {
      const [v0] = await remoteVideos(page);
      const before = (await stats(page)).find((x) => x.kind === 'video')!;
      await waitIn(
        'video to advance after the resume',
        async () => {
          const [v] = await remoteVideos(page);
          return v && v0 && v.currentTime > v0.currentTime + 1 ? v : undefined;
        },
        15_000,
      );
      const afterStats = (await stats(page)).find((x) => x.kind === 'video')!;
      assert.ok(afterStats.framesDecoded! > before.framesDecoded!, 'frames keep being decoded');
    }
    const s = (await state(alice))!;
    assert.equal(s.transports.send, 'connected');
    assert.equal(s.transports.recv, 'connected');
    assert.deepEqual(
      (await state(bob))!.peers.map((p) => p.name),
      ['Alice'],
      'bob never saw alice leave',
    );
  });
});
