/**
 * Is anything retained per bad socket? Starts a region (nats-server, gateway, media node) with
 * the gateway writing a heap snapshot on SIGUSR2 (a snapshot is taken after a full GC), takes
 * one after a warm-up, opens many sockets that send the fuzzer's kinds of bad input (deep
 * nesting, broken JSON, a BOM, invalid UTF-8, oversized frames, floods, bad tokens, leave before
 * join, half-finished joins), waits until the gateway reports no socket, takes a second one, and
 * prints RSS and the heap's object counts by constructor, before and after.
 *
 * Rounds repeat the run: RSS that levels off from one round to the next is a high-water mark
 * (V8 heap pages and allocator arenas kept for reuse), RSS that keeps climbing is retention.
 *
 *   node --conditions=strata-src --import tsx test/tools/bad-socket-heap.ts [sockets=2000] [rounds=3] [concurrency=50]
 */
import { Heartbeat, subjects, type EventOf } from '@strata/protocol';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { waitFor } from '../helpers/processes.js';
import { startRegion } from '../helpers/region.js';

const SOCKETS = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = Number(process.argv[4] ?? 50);
const dir = mkdtempSync(join(tmpdir(), 'strata-heap-'));

type Kind = (ws: WebSocket, token: string) => void;
const deep = `{"id":1,"method":"produce","data":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`;
const KINDS: Record<string, Kind> = {
  deep: (ws) => ws.send(deep),
  brokenJson: (ws) => ws.send('{"id": 1, "method": '),
  bom: (ws) => ws.send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":1,"method":"leave"}')])),
  badUtf8: (ws) => ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false }),
  tooLarge: (ws) => ws.send(JSON.stringify({ id: 1, method: 'join', data: { token: 'x'.repeat(100_000) } })),
  flood: (ws) => {
    for (let i = 0; i < 200; i++) ws.send(JSON.stringify({ id: i, method: 'getRouterRtpCapabilities' }));
  },
  badToken: (ws) => ws.send(JSON.stringify({ id: 1, method: 'join', data: { token: 'not-a-jwt' } })),
  leaveFirst: (ws) => ws.send(JSON.stringify({ id: 1, method: 'leave' })),
  joinThenDrop: (ws, token) => ws.send(JSON.stringify({ id: 1, method: 'join', data: { token } })),
};

function badSocket(url: string, kind: Kind, token: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let replies = 0;
    const done = () => {
      clearTimeout(timer);
      ws.terminate();
      resolve();
    };
    const timer = setTimeout(done, 3000);
    ws.on('open', () => kind(ws, token));
    ws.on('message', () => {
      if (++replies >= 1) setTimeout(done, 5);
    });
    ws.on('close', done);
    ws.on('error', done);
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function snapshot(pid: number, label: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const file = await waitFor(`heap snapshot ${label}`, () => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)), 60_000, 200);
  // Written in one go by the process; wait until the size stops changing.
  let size = -1;
  await waitFor(
    'snapshot written',
    () => {
      const s = statSync(join(dir, file)).size;
      const stable = s > 0 && s === size;
      size = s;
      return stable ? true : undefined;
    },
    60_000,
    500,
  );
  return join(dir, file);
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects per constructor: count and retained-by-itself bytes. */
function census(path: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const out = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const type = types[s.nodes[i + iType]!]!;
    if (type !== 'object' && type !== 'closure' && type !== 'native' && type !== 'array' && type !== 'string') continue;
    const key = type === 'string' ? '(string)' : `${type}:${s.strings[s.nodes[i + iName]!]!}`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += s.nodes[i + iSize]!;
    out.set(key, e);
  }
  return out;
}

const region = await startRegion({
  env: { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info', SIGNALING_RESUME_GRACE: '1s' },
});
const gw = region.gateways[0]!;
const pid = gw.proc.pid;
let sockets = -1;
region.bus.subscribe(Heartbeat, subjects.heartbeat(region.region, 'signaling', gw.id), (b: EventOf<typeof Heartbeat>) => {
  sockets = Number(b.load.details['sockets'] ?? -1);
});
try {
  const token = await region.mintToken({ room: 'heap', identity: 'x' });
  const kinds = Object.entries(KINDS);
  const run = async (n: number): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const [, kind] = kinds[next++ % kinds.length]!;
          await badSocket(gw.wsUrl, kind, token);
        }
      }),
    );
    await waitFor('the gateway to hold no socket', () => (sockets === 0 ? true : undefined), 30_000, 200);
  };
  await run(200); // warm-up: code paths compiled, pools allocated
  console.log(`RSS after warm-up: ${rssMiB(pid)} MiB`);
  const a = census(await snapshot(pid, 'before'));
  console.log(`RSS after snapshot 1: ${rssMiB(pid)} MiB`);
  console.log(`kinds: ${kinds.map(([k]) => k).join(', ')}`);
  for (let round = 1; round <= ROUNDS; round++) {
    const t0 = Date.now();
    await run(SOCKETS);
    const ms = Date.now() - t0;
    // Sessions joined by joinThenDrop wait out their grace period before they are removed.
    await new Promise((r) => setTimeout(r, 3000));
    console.log(`round ${round}: ${SOCKETS} bad sockets in ${ms} ms; RSS ${rssMiB(pid)} MiB 3 s later`);
  }
  await new Promise((r) => setTimeout(r, 10_000));
  console.log(`RSS after 10 s idle: ${rssMiB(pid)} MiB`);
  const b = census(await snapshot(pid, 'after'));
  console.log(`RSS after snapshot 2: ${rssMiB(pid)} MiB`);
  const rows = [...new Set([...a.keys(), ...b.keys()])]
    .map((k) => ({ k, dCount: (b.get(k)?.count ?? 0) - (a.get(k)?.count ?? 0), dBytes: (b.get(k)?.bytes ?? 0) - (a.get(k)?.bytes ?? 0) }))
    .sort((x, y) => Math.abs(y.dBytes) - Math.abs(x.dBytes))
    .slice(0, 25);
  const total = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((n, e) => n + e.bytes, 0);
  console.log(`heap objects: ${(total(a) / 2 ** 20).toFixed(1)} MiB before, ${(total(b) / 2 ** 20).toFixed(1)} MiB after`);
  console.log('largest changes (constructor, count, bytes):');
  for (const r of rows) console.log(`  ${r.k.padEnd(48)} ${String(r.dCount).padStart(8)} ${String(r.dBytes).padStart(12)}`);
  const watch = ['object:RateLimiter', 'object:PeerSession', 'object:WebSocket', 'closure:notify'];
  for (const k of watch) console.log(`  ${k}: ${a.get(k)?.count ?? 0} → ${b.get(k)?.count ?? 0}`);
} finally {
  await region.stop();
  rmSync(dir, { recursive: true, force: true });
}
