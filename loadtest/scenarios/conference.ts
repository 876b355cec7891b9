/**
 * One-region conference: rooms of 2–10 media bots, every bot a real WebRTC peer (msc-node on
 * werift, through @strata/client's RoomClient) publishing Opus and VP8 RTP and subscribing to
 * everyone else in its room. Packets lost per consumer come from the bots' receive stats
 * (sequence-number gaps after SRTP decryption), not from the server.
 *
 *   npm run loadtest -- loadtest/scenarios/conference.ts --start-region
 *   npm run loadtest -- loadtest/scenarios/conference.ts --start-region -e CONF_ROOMS=2,3,4 -e CONF_DURATION=15
 *
 * CONF_ROOMS lists the room sizes (default 2,3,5,10: 20 bots); bots join at 5/s, then every bot
 * sends for CONF_DURATION seconds (default 30) once all have joined.
 */
import type { NodePeer } from '@strata/harness';
import { Counter, Rate, Trend, sleep, type Goal, type Options, type VuContext } from '../src/index.js';

const SIZES = (process.env['CONF_ROOMS'] ?? '2,3,5,10').split(',').map(Number);
const DURATION_S = process.env['CONF_DURATION'] ? Number(process.env['CONF_DURATION']) : 30;
const BOTS = SIZES.reduce((a, b) => a + b, 0);
const JOIN_RATE = 5;

/** Bot k (0-based) → its room and the room's size. */
function roomOf(k: number): { room: string; size: number } {
  let first = 0;
  for (const [r, size] of SIZES.entries()) {
    if (k < first + size) return { room: `conf-${r}-of-${size}`, size };
    first += size;
  }
  throw new Error(`bot ${k} beyond ${BOTS}`);
}

export const options: Options = {
  scenarios: {
    conference: {
      executor: 'per-vu-iterations',
      vus: BOTS,
      iterations: 1,
      maxDuration: `${BOTS / JOIN_RATE + DURATION_S + 120}s`,
      gracefulStop: '30s',
      mediaShare: 1,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    consumer_received_media: ['rate==1'],
  },
};

const lostPerConsumer = new Trend('packets_lost_per_consumer', false);
const lossRatio = new Trend('packet_loss_ratio_per_consumer', false);
const received = new Counter('rtp_packets_received');
const sent = new Counter('rtp_packets_sent');
const receivedMedia = new Rate('consumer_received_media');

let arrived = 0;
let release: () => void = () => undefined;
const allJoined = new Promise<void>((r) => (release = r));
const arrive = (): void => {
  if (++arrived === BOTS) release();
};

export default async function (vu: VuContext): Promise<void> {
  if (!vu.media) throw new Error('conference bots are media VUs (mediaShare: 1)');
  const k = vu.vu - 1;
  const { room, size } = roomOf(k);
  await sleep(k / JOIN_RATE);
  let peer: NodePeer;
  try {
    peer = await vu.mediaPeer({ room, identity: `bot-${k}` });
  } finally {
    arrive();
  }
  await allJoined;
  await sleep(DURATION_S);
  sent.add(peer.sent('audio') + peer.sent('video'));
  peer.stopSending();
  const stats = peer.snapshot();
  const expected = (size - 1) * 2;
  vu.check(stats, { 'consumes every other bot (audio + video)': (s) => s.length >= expected });
  for (const s of stats) {
    const tags = { kind: s.kind, room_size: String(size) };
    lostPerConsumer.add(s.lost, tags);
    lossRatio.add(s.packets + s.lost > 0 ? s.lost / (s.packets + s.lost) : 1, tags);
    received.add(s.packets, tags);
    receivedMedia.add(s.packets > 0, tags);
  }
}

export function goals(): Goal[] {
  const l = lostPerConsumer.values();
  const r = lossRatio.values();
  return [
    {
      name: 'packets lost per consumer (from the bots’ receive stats)',
      ok: l.count > 0,
      detail: `${l.count} consumers in ${SIZES.length} rooms (${SIZES.join(', ')}): lost avg ${l.avg.toFixed(1)}, p95 ${l.percentile(95)}, max ${l.max}; loss ratio p95 ${(r.percentile(95) * 100).toFixed(2)} %, max ${(r.max * 100).toFixed(2)} %`,
    },
  ];
}
