/**
 * The minimal gateway our gateway is compared with: the smallest signaling server one could
 * write around mediasoup — plain `ws`, one process, mediasoup in it, no NATS, no KV, no auth.
 * It speaks the same frames for join / createWebRtcTransport / leave, so the same client
 * (SignalingClient) measures both. Run as its own process (like our services are); prints
 * `PORT <n>` when listening. `join` takes `{ room }` instead of a token.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { WebSocketServer } from 'ws';

const worker = await mediasoup.createWorker({ logLevel: 'warn' });
const webRtcServer = await worker.createWebRtcServer({
  listenInfos: [
    { protocol: 'udp', ip: '127.0.0.1' },
    { protocol: 'tcp', ip: '127.0.0.1' },
  ],
});
const routers = new Map<string, types.Router>();
const codecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', (ws) => {
  let router: types.Router | undefined;
  const transports: types.WebRtcTransport[] = [];
  ws.on('message', async (buf: Buffer) => {
    const { id, method, data } = JSON.parse(buf.toString()) as { id: number; method: string; data: { room?: string; direction?: string } };
    const reply = (d: unknown) => ws.send(JSON.stringify({ id, ok: true, data: d }));
    try {
      if (method === 'join') {
        const room = String(data.room ?? 'r');
        router = routers.get(room) ?? (await worker.createRouter({ mediaCodecs: codecs }));
        routers.set(room, router);
        reply({ rtpCapabilities: router.rtpCapabilities });
      } else if (method === 'createWebRtcTransport' && router) {
        const t = await router.createWebRtcTransport({ webRtcServer, enableUdp: true, enableTcp: true, preferUdp: true });
        transports.push(t);
        reply({ transportId: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters });
      } else if (method === 'leave') {
        for (const t of transports.splice(0)) t.close();
        reply({});
      } else {
        ws.send(JSON.stringify({ id, ok: false, error: { code: 'UNKNOWN_METHOD', message: method } }));
      }
    } catch (err) {
      ws.send(JSON.stringify({ id, ok: false, error: { code: 'INTERNAL', message: String(err) } }));
    }
  });
  ws.on('close', () => {
    for (const t of transports) t.close();
  });
});
wss.on('listening', () => {
  const addr = wss.address();
  process.stdout.write(`PORT ${addr && typeof addr === 'object' ? addr.port : String(addr)}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  worker.close();
  process.exit(0);
});
