/**
 * Per-socket limits of the gateway, with non-default settings so the test can tell they are
 * used: the request rate limit (SIGNALING_RATE_LIMIT / SIGNALING_RATE_BURST) and the idle
 * timeout of a socket that goes silent (SIGNALING_IDLE_TIMEOUT).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { waitFor } from '../helpers/processes.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

// A slow refill (one token per 500 ms) against a burst that differs from it and from the defaults (50/s, 100).
const RATE = 2;
const BURST = 6;
const IDLE_TIMEOUT_S = 8; // the smallest uWS accepts

describe('gateway socket limits', { timeout: 120_000 }, () => {
  let region: Region;
  let alice: RawSocket;

  before(async () => {
    region = await startRegion({
      env: { SIGNALING_RATE_LIMIT: String(RATE), SIGNALING_RATE_BURST: String(BURST), SIGNALING_IDLE_TIMEOUT: `${IDLE_TIMEOUT_S}s` },
    });
    alice = await RawSocket.open(region.wsUrl);
    const r = await alice.request('join', { token: await region.mintToken({ room: 'limits', identity: 'alice' }) });
    assert.ok(r.ok, JSON.stringify(r));
  });

  after(async () => {
    alice?.close();
    await region?.stop();
  });

  it('answers exactly the burst of a batch, refuses the rest with RATE_LIMITED, and keeps the socket', async () => {
    const s = await RawSocket.open(region.wsUrl);
    const token = await region.mintToken({ room: 'limits', identity: 'burst' });
    // One batch, sent at once: the join takes a token like any request. The batch arrives far
    // faster than the 1 / RATE s one more token takes to refill.
    const extra = 3;
    s.sendRaw(JSON.stringify({ id: 1, method: 'join', data: { token } }));
    for (let i = 2; i <= BURST + extra; i++) s.sendRaw(JSON.stringify({ id: i, method: 'getRouterRtpCapabilities', data: {} }));
    const limited = await s.waitFor(() => {
      const answered = s.responses.filter((r) => r.id !== null);
      const refused = s.responses.filter((r) => r.error?.code === 'RATE_LIMITED');
      return answered.length === BURST && refused.length === extra ? { answered, refused } : undefined;
    });
    assert.deepEqual(
      limited.answered.map((r) => [r.id, r.ok]),
      Array.from({ length: BURST }, (_, i) => [i + 1, true]),
      `the first ${BURST} requests are answered`,
    );
    for (const r of limited.refused) {
      assert.equal(r.id, null);
      assert.match(r.error!.message, new RegExp(`more than ${RATE} requests per second`));
    }
    assert.equal(s.responses.length, BURST + extra);
    assert.equal(s.closed, undefined, 'a few refusals do not cost the socket');
    s.close();
  });

  it('closes a flooding socket after twice the burst of refusals, without touching other peers', async () => {
    const s = await RawSocket.open(region.wsUrl);
    // Before any join: nothing is queued behind the limiter, so every refusal is seen in order.
    for (let i = 0; i < BURST * 10 && s.ws.readyState === s.ws.OPEN; i++)
      s.sendRaw(JSON.stringify({ id: 1000 + i, method: 'getRouterRtpCapabilities', data: {} }));
    await s.waitFor(() => s.closed, 10_000).catch(() => undefined);
    assert.equal(s.closed?.code, 1008);
    assert.equal(s.closed?.reason, 'rate limit exceeded');
    assert.equal(s.responses.filter((r) => r.error?.code === 'RATE_LIMITED').length, 2 * BURST, 'refusals before the close');
    const caps = await alice.request('getRouterRtpCapabilities');
    assert.equal(caps.ok, true, 'alice still answered');
    assert.equal(alice.closed, undefined);
  });

  it('closes a socket that sends nothing and answers no ping after SIGNALING_IDLE_TIMEOUT', async () => {
    const open = (autoPong: boolean): Promise<{ ws: WebSocket; closed: { code: number; at: number } | undefined }> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(region.wsUrl, { autoPong });
        const s: { ws: WebSocket; closed: { code: number; at: number } | undefined } = { ws, closed: undefined };
        ws.once('open', () => resolve(s));
        ws.once('error', reject);
        ws.once('close', (code) => (s.closed = { code, at: Date.now() }));
      });
    const t0 = Date.now();
    const [silent, answering] = await Promise.all([open(false), open(true)]);
    let pings = 0;
    silent.ws.on('ping', () => pings++);
    // The default (60 s) would outlast this wait.
    await waitFor('the silent socket to be closed', () => silent.closed, 40_000, 100);
    const after = silent.closed!.at - t0;
    assert.ok(pings >= 1, 'the gateway pinged before giving up');
    // uWS checks timeouts every 4 s, so a socket goes between idleTimeout - 4 s and idleTimeout.
    assert.ok(after >= (IDLE_TIMEOUT_S - 4) * 1000, `closed after ${after} ms`);
    assert.equal(answering.closed, undefined, 'a socket that answers pings stays open');
    answering.ws.close();
  });
});
