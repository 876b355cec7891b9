import type { MediaKind } from './device.js';

/** The room's speaker ranking as the gateway last told it: the top-K speakers, and the speakers most recent first. */
export interface Speakers {
  k: number;
  audio: readonly string[];
  order: readonly string[];
}

export interface ViewPeer {
  readonly peerId: string;
  readonly producers: ReadonlyMap<string, { readonly kind: MediaKind }>;
}

export interface ViewInput {
  /** The other members, in the order they joined. */
  peers: Iterable<ViewPeer>;
  /** Absent until the gateway told one (a gateway without ranking): everything is in view. */
  speakers: Speakers | undefined;
  /** How many peers' video to receive (the tiles on screen). */
  videoSlots: number;
  /** Peers whose video is received whatever the ranking says. */
  pinned: ReadonlySet<string>;
}

/**
 * Which producers a subscriber receives, as Jitsi's last-N does it: the video of the
 * `videoSlots` most recent speakers (then of members who never spoke, in join order, so a
 * quiet room still fills its tiles) plus the pinned peers', and the audio of the top-K
 * speakers. A room that fits (at most `videoSlots` peers with video, at most K audio
 * producers) is received whole, exactly as without a view.
 */
export function viewOf(input: ViewInput): Set<string> {
  const peers = [...input.peers];
  const view = new Set<string>();
  const byKind = (p: ViewPeer, kind: MediaKind) => [...p.producers].filter(([, x]) => x.kind === kind).map(([id]) => id);
  const s = input.speakers;

  const audio = peers.flatMap((p) => byKind(p, 'audio'));
  if (!s || audio.length <= s.k) for (const id of audio) view.add(id);
  else {
    const top = new Set(s.audio);
    for (const p of peers) if (top.has(p.peerId)) for (const id of byKind(p, 'audio')) view.add(id);
  }

  const withVideo = peers.filter((p) => byKind(p, 'video').length > 0);
  let shown: ViewPeer[];
  if (!s || withVideo.length <= input.videoSlots) shown = withVideo;
  else {
    const rank = new Map(s.order.map((id, i) => [id, i]));
    // Speakers by recency first, then the others as they joined (a stable sort keeps join order).
    const ordered = [...withVideo].sort((a, b) => (rank.get(a.peerId) ?? Infinity) - (rank.get(b.peerId) ?? Infinity));
    shown = ordered.slice(0, Math.max(0, input.videoSlots));
    for (const p of withVideo) if (input.pinned.has(p.peerId) && !shown.includes(p)) shown.push(p);
  }
  for (const p of shown) for (const id of byKind(p, 'video')) view.add(id);
  return view;
}
