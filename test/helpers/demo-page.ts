/**
 * The demo page driven in Debian's headless Chromium (fake camera and microphone), as the
 * browser tests use it: launch flags, the page's state and stats, and its remote videos as the
 * DOM plays them.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { DemoState, InboundStats, StrataDemo } from '../../services/signaling/web/demo-api.js';
import { waitFor } from './processes.js';

export const CHROMIUM = process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches for one test (say, to accept a self-signed certificate). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/**
 * Runs in every page before its scripts: keeps each RTCPeerConnection the page makes, so the
 * test can read from them what the browser really does (the ICE credentials in its SDP, its
 * selected candidate pair); as `__strataPeerConnections`. A string: it runs in the page.
 */
export const RECORD_PEER_CONNECTIONS = `(() => {
  const Native = globalThis.RTCPeerConnection;
  const pcs = [];
  globalThis.__strataPeerConnections = pcs;
  globalThis.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      pcs.push(this);
    }
  };
})();`;

export interface RemoteVideo {
  peerId: string;
  label: string;
  width: number;
  height: number;
  currentTime: number;
  paused: boolean;
}

/**
 * The page's globals as the callbacks below use them. The callbacks run in the browser but are
 * type-checked here, where the DOM library is not loaded (this is a Node program).
 */
interface VideoEl {
  dataset: Record<string, string | undefined>;
  videoWidth: number;
  videoHeight: number;
  currentTime: number;
  paused: boolean;
  closest(selector: string): { querySelector(selector: string): { textContent: string | null } | null } | null;
}
export interface PageGlobals {
  strataDemo?: StrataDemo;
  document: { querySelectorAll(selector: string): Iterable<VideoEl> };
}

export const demoState = (page: Page): Promise<DemoState | undefined> => page.evaluate(() => (globalThis as unknown as PageGlobals).strataDemo?.state);
export const demoStats = (page: Page): Promise<InboundStats[]> =>
  page.evaluate(() => (globalThis as unknown as PageGlobals).strataDemo?.stats() ?? Promise.resolve([]));

/** The remote <video> elements of a page, as the DOM reports their playback. */
export const remoteVideos = (page: Page): Promise<RemoteVideo[]> =>
  page.evaluate(() =>
    [...(globalThis as unknown as PageGlobals).document.querySelectorAll('video[data-local="false"]')].map((v) => ({
      peerId: v.dataset['peerId'] ?? '',
      label: v.closest('figure')?.querySelector('.name')?.textContent ?? '',
      width: v.videoWidth,
      height: v.videoHeight,
      currentTime: v.currentTime,
      paused: v.paused,
    })),
  );

/** `waitFor` that prints the last lines of the pages' console (`logs`) when it times out. */
export function pageWaiter(logs: readonly string[]) {
  return async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
    try {
      return await waitFor(what, probe, timeoutMs, 250);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- page console ---\n${logs.slice(-60).join('\n')}`);
    }
  };
}

/**
 * Waits until a page has joined, publishes its 2 tracks and consumes the other page's 2 over a
 * connected receive transport; a page that failed stops the wait with its errors.
 */
export function untilJoinedWithTwoTracks(page: Page, waitIn: ReturnType<typeof pageWaiter>, timeoutMs?: number): Promise<DemoState> {
  return waitIn(
    'both pages joined, publishing and consuming 2 tracks',
    async () => {
      const s = await demoState(page);
      if (s?.phase === 'failed') throw new Error(`page failed: ${s.errors.join('; ')}`);
      return s?.phase === 'joined' && s.producers.length === 2 && s.consumers.length === 2 && s.transports.recv === 'connected' ? s : undefined;
    },
    timeoutMs,
  );
}

/** Waits until a page's first remote video has frames, then until it plays on for a second more. */
export async function untilRemoteVideoPlays(page: Page, waitIn: ReturnType<typeof pageWaiter>): Promise<RemoteVideo> {
  const first = await waitIn('the remote video to have frames', async () => {
    const [v] = await remoteVideos(page);
    return v && v.width > 0 && v.currentTime > 0 ? v : undefined;
  });
  return waitIn('the remote video to keep playing', async () => {
    const [v] = await remoteVideos(page);
    return v && v.currentTime > first.currentTime + 1 && !v.paused ? v : undefined;
  });
}
