/**
 * The demo conference page: /?room=<name>&name=<display name>. Gets a dev token from the
 * gateway, joins with @strata/client + mediasoup-client, publishes camera (VP8 simulcast) and
 * microphone, and shows everyone else. `window.strataDemo` exposes the live state for tests.
 */
import { RoomClient, SignalingClient, VP8_SIMULCAST_ENCODINGS, type RemoteConsumer, type TurnTransport } from '@strata/client';
import { Device } from 'mediasoup-client';
import type { DemoState, InboundStats, Phase, StrataDemo } from './demo-api.js';
import { fetchDevToken } from './dev-token.js';
import { startRegionPanel } from './region-panel.js';
import { TileGrid } from './tiles.js';

declare global {
  interface Window {
    strataDemo?: StrataDemo;
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
};

const randomSuffix = (): string => Math.random().toString(36).slice(2, 7);

/** Page-wide: also set when the conference fails before or after it started. */
const status = { phase: 'idle' as Phase, errors: [] as string[] };

function report(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  status.errors.push(msg);
  const li = document.createElement('li');
  li.textContent = msg;
  $('errors').append(li);
  console.error(err);
}

function setPill(el: HTMLElement, text: string, good: boolean | undefined): void {
  el.textContent = text;
  el.className = `pill ${good === undefined ? 'wait' : good ? 'ok' : 'bad'}`;
}

function showJoinForm(): void {
  $('join').hidden = false;
  $('conference').hidden = true;
  for (const id of ['conference-head', 'ws-state', 'send-state', 'recv-state', 'leave']) $(id).hidden = true;
  $<HTMLDetailsElement>('region-panel').open = true;
  const form = $<HTMLFormElement>('join-form');
  $<HTMLInputElement>('join-name').value = localStorage.getItem('strata-name') ?? '';
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const room = $<HTMLInputElement>('join-room').value.trim() || 'demo';
    const name = $<HTMLInputElement>('join-name').value.trim();
    if (name) localStorage.setItem('strata-name', name);
    location.search = new URLSearchParams({ room, ...(name ? { name } : {}) }).toString();
  });
}

/**
 * `?relay=1`: media only through TURN (iceTransportPolicy relay); `?turn=udp,tcp,tls`: only
 * those of the region's TURN URLs. For trying TURN from a network that has it, and for tests.
 */
function iceOptions(params: URLSearchParams): { iceTransportPolicy?: 'relay'; turnTransports?: TurnTransport[] } {
  const turn = params.get('turn');
  const transports = turn?.split(',').filter((t): t is TurnTransport => t === 'udp' || t === 'tcp' || t === 'tls');
  return { ...(params.get('relay') === '1' ? { iceTransportPolicy: 'relay' as const } : {}), ...(transports?.length ? { turnTransports: transports } : {}) };
}

async function conference(roomName: string, name: string, identity: string, ice: ReturnType<typeof iceOptions>): Promise<void> {
  $('join').hidden = true;
  $('conference').hidden = false;
  $('room-name').textContent = roomName;
  $('self-name').textContent = name;
  status.phase = 'joining';
  const { token, wsUrl } = await fetchDevToken(roomName, identity, name);
  const signaling = new SignalingClient({ url: wsUrl, WebSocket });
  const room = new RoomClient<MediaStreamTrack>({ signaling, device: new Device(), token, name, ...ice });
  const grid = new TileGrid($('grid'), {
    onLayerChange: (peerId, spatial) => {
      const video = [...room.consumers.values()].find((c) => c.peerId === peerId && c.kind === 'video');
      if (video) room.setPreferredLayers(video.consumerId, spatial < 0 ? 2 : spatial, spatial < 0 ? 2 : undefined).catch(report);
    },
    onAutoplayBlocked: () => ($('unmute').hidden = false),
    onPinChange: (peerId, pinned) => {
      if (pinned) room.pin(peerId);
      else room.unpin(peerId);
      grid.get(peerId)?.setPinned(pinned);
    },
  });
  $('unmute').addEventListener('click', () => {
    grid.playAll();
    $('unmute').hidden = true;
  });

  const describeConsumer = (c: RemoteConsumer<MediaStreamTrack>): void => {
    if (c.kind !== 'video') return;
    const l = c.layers;
    grid.get(c.peerId)?.setMeta(c.paused ? 'paused' : l ? `layer ${l.spatialLayer ?? '-'}/${l.temporalLayer ?? '-'}` : c.type);
  };
  const showConnection = (): void => {
    const s = signaling.state;
    setPill(
      $('ws-state'),
      `signaling: ${s}${signaling.reconnects ? ` (resumed ${signaling.reconnects}×)` : ''}`,
      s === 'connected' ? true : s === 'closed' ? false : undefined,
    );
    for (const dir of ['send', 'recv'] as const) {
      const t = room.transportState(dir);
      setPill($(`${dir}-state`), `${dir}: ${t ?? '—'}`, t === 'connected' ? true : t === 'failed' || t === 'closed' ? false : undefined);
    }
  };

  room.on('connectionState', showConnection);
  room.on('transportState', showConnection);
  room.on('peerJoined', (p) => grid.upsert(p.peerId, p.name ?? p.identity));
  room.on('peerLeft', (p) => grid.remove(p.peerId));
  room.on('consumer', (c) => {
    grid.upsert(c.peerId, room.peers.get(c.peerId)?.name ?? c.peerId);
    grid.setTrack(c.peerId, c.kind, c.track);
    describeConsumer(c);
  });
  room.on('consumerClosed', (c) => grid.setTrack(c.peerId, c.kind, null));
  room.on('consumerUpdated', describeConsumer);
  // Tiles follow the view: a peer is on screen while some of its media is in it (or it publishes
  // nothing yet and the room fits), so tiles come and go with the speakers; a pinned one stays.
  const showTiles = (): void => {
    const fits = room.peers.size <= 9;
    for (const p of room.peers.values()) {
      const inView = [...p.producers.keys()].some((id) => room.view.has(id));
      grid.get(p.peerId)?.setShown(inView || room.pinned.has(p.peerId) || (fits && p.producers.size === 0));
    }
  };
  room.on('viewChanged', showTiles);
  room.on('peerJoined', showTiles);
  room.on('peerUpdated', showTiles);
  room.on('activeSpeaker', (peerId) => grid.setSpeaking(peerId));
  room.on('error', report);
  let media: MediaStream | undefined;
  room.on('closed', (reason, error) => {
    status.phase = error ? 'failed' : 'left';
    if (error) report(error);
    // Turn the camera light off and leave an empty room behind.
    for (const t of media?.getTracks() ?? []) t.stop();
    grid.clear();
    $<HTMLButtonElement>('leave').disabled = true;
    $('left').hidden = false;
    $('left-reason').textContent = reason;
    showConnection();
  });

  window.strataDemo = {
    get state(): DemoState {
      return {
        phase: status.phase,
        room: roomName,
        name,
        peerId: room.peerId,
        connection: signaling.state,
        transports: { send: room.transportState('send'), recv: room.transportState('recv') },
        reconnects: signaling.reconnects,
        iceRestarts: room.iceRestarts,
        peers: [...room.peers.values()].map((p) => ({ peerId: p.peerId, identity: p.identity, name: p.name, producers: p.producers.size })),
        producers: [...room.producers.values()].map((p) => ({ producerId: p.producerId, kind: p.kind, source: p.source })),
        consumers: [...room.consumers.values()].map((c) => ({
          consumerId: c.consumerId,
          peerId: c.peerId,
          kind: c.kind,
          source: c.source,
          type: c.type,
          paused: c.paused,
          inView: c.inView,
          spatialLayer: c.layers?.spatialLayer ?? null,
          temporalLayer: c.layers?.temporalLayer ?? null,
        })),
        activeSpeaker: room.activeSpeaker?.peerId,
        speakers: [...(room.speakers?.audio ?? [])],
        shownTiles: [...room.peers.keys()].filter((id) => grid.get(id)?.root.hidden === false),
        errors: [...status.errors],
      };
    },
    async stats(): Promise<InboundStats[]> {
      const out: InboundStats[] = [];
      for (const c of room.consumers.values()) {
        const report = await c.consumer.getStats();
        if (!(report instanceof RTCStatsReport)) continue;
        report.forEach((s: RTCInboundRtpStreamStats) => {
          if (s.type !== 'inbound-rtp') return;
          out.push({
            consumerId: c.consumerId,
            peerId: c.peerId,
            kind: c.kind,
            packetsReceived: s.packetsReceived ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
            packetsLost: s.packetsLost ?? 0,
            framesDecoded: s.framesDecoded,
            frameWidth: s.frameWidth,
            frameHeight: s.frameHeight,
          });
        });
      }
      return out;
    },
    dropConnection: () => signaling.dropConnectionForTest(),
    leave: () => room.leave(),
  };
  $('leave').addEventListener('click', () => void room.leave());
  window.addEventListener('pagehide', () => void room.leave());

  showConnection();
  const joined = await room.join();
  status.phase = 'joined';
  $('self-name').textContent = `${name} · ${joined.region}`;
  const self = grid.upsert(joined.peerId, `${name} (you)`, true);
  if (!joined.grants.publish) return;

  try {
    media = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
    });
  } catch (err) {
    report(new Error(`no camera/microphone (${err instanceof Error ? err.message : String(err)}): watching only`));
    return;
  }
  if (room.closed) {
    for (const t of media.getTracks()) t.stop(); // left while the browser asked for the camera
    return;
  }
  const [video] = media.getVideoTracks();
  const [audio] = media.getAudioTracks();
  if (video) {
    self.video.srcObject = new MediaStream([video]);
    await room.publish(video, { source: 'camera', encodings: VP8_SIMULCAST_ENCODINGS, codecOptions: { videoGoogleStartBitrate: 1000 } });
  }
  // In-band FEC and DTX: the router offers them, the browser's encoder uses them only when asked.
  if (audio) await room.publish(audio, { source: 'microphone', codecOptions: { opusFec: true, opusDtx: true } });
}

async function main(): Promise<void> {
  startRegionPanel($('region'), $('services'));
  const params = new URLSearchParams(location.search);
  const room = params.get('room');
  if (!room) return showJoinForm();
  const name = params.get('name')?.trim() || `guest-${randomSuffix()}`;
  const identity =
    params.get('identity') ||
    `${name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .slice(0, 40)}-${randomSuffix()}`;
  try {
    await conference(room, name, identity, iceOptions(params));
  } catch (err) {
    // Leaving while the camera was still being published aborts the publish: not a failure.
    if (status.phase === 'left') return;
    status.phase = 'failed';
    report(err);
    window.strataDemo ??= {
      state: {
        phase: 'failed',
        room,
        name,
        peerId: undefined,
        connection: 'closed',
        transports: { send: undefined, recv: undefined },
        reconnects: 0,
        iceRestarts: { send: 0, recv: 0 },
        peers: [],
        producers: [],
        consumers: [],
        activeSpeaker: undefined,
        speakers: [],
        shownTiles: [],
        errors: status.errors,
      },
      stats: async () => [],
      dropConnection: () => undefined,
      leave: async () => undefined,
    };
  }
}

void main();
