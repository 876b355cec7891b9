import { LegLevels, SpeakerRanking as SpeakerRankingEvent } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { SpeakerRanking, type Level, type RankingOptions } from './speaker-ranking.js';

/** How a leg talks about speakers: levels with the other legs, the ranking to the gateways. */
export interface SpeakerChannel {
  publishLevels(e: LegLevels): void;
  subscribeLevels(onLevels: (e: LegLevels) => void): { unsubscribe(): void };
  publishRanking(e: SpeakerRankingEvent): void;
}

export interface LegSpeakersOptions extends RankingOptions {
  intervalMs: number;
  /** dBov under which a producer counts as silent. */
  threshold: number;
}

/**
 * One leg's part in the room-wide speaker ranking: an audio-level observer over this leg's
 * audio producers reports the speakers above the silence threshold to the other legs every
 * interval (and once when this leg goes quiet), every leg's reports feed the same ranking, and
 * a change of the ranking goes to the gateways of this leg's peers.
 */
export class LegSpeakers {
  private readonly ranking: SpeakerRanking;
  private readonly sub: { unsubscribe(): void };
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly roomId: string,
    private readonly nodeId: string,
    private readonly observer: types.AudioLevelObserver,
    private readonly channel: SpeakerChannel,
    private readonly opts: LegSpeakersOptions,
    /** Whether a peer is still a member of the room (on any leg). */
    private readonly isMember: (peerId: string) => boolean,
    private readonly log: Logger,
  ) {
    this.ranking = new SpeakerRanking(opts);
    observer.on('volumes', (volumes) => {
      const levels: Level[] = [];
      const wire = [];
      for (const { producer, volume } of volumes) {
        const peerId = (producer.appData as { peerId?: string }).peerId;
        if (!peerId) continue;
        levels.push({ peerId, volume });
        wire.push({ peerId, producerId: producer.id, volume: Math.max(-127, Math.min(0, volume)) });
      }
      this.local(levels, wire);
    });
    observer.on('silence', () => this.local([], []));
    this.sub = channel.subscribeLevels((e) => {
      if (e.nodeId === this.nodeId || this.closed) return;
      this.ranking.report(
        e.nodeId,
        e.levels.map((l) => ({ peerId: l.peerId, volume: l.volume })),
        Date.now(),
      );
      this.tick();
    });
    // Silence expires without a report: re-rank every interval too.
    this.timer = setInterval(() => this.tick(), opts.intervalMs);
    this.timer.unref();
  }

  static async create(
    router: types.Router,
    roomId: string,
    nodeId: string,
    channel: SpeakerChannel,
    opts: LegSpeakersOptions,
    isMember: (peerId: string) => boolean,
    log: Logger,
  ): Promise<LegSpeakers> {
    const observer = await router.createAudioLevelObserver({ maxEntries: 16, threshold: opts.threshold, interval: opts.intervalMs });
    return new LegSpeakers(roomId, nodeId, observer, channel, opts, isMember, log);
  }

  async addProducer(producerId: string): Promise<void> {
    await this.observer.addProducer({ producerId }).catch((err: unknown) => this.log.warn({ err, producerId }, 'not observed for audio levels'));
  }

  private local(levels: Level[], wire: LegLevels['levels']): void {
    if (this.closed) return;
    this.channel.publishLevels({ roomId: this.roomId, nodeId: this.nodeId, levels: wire });
    this.ranking.report(this.nodeId, levels, Date.now());
    this.tick();
  }

  /** The other leg is gone: its speakers stop now, not after the silence timeout. */
  dropLeg(nodeId: string): void {
    this.ranking.dropLeg(nodeId);
    this.tick();
  }

  private tick(): void {
    if (this.closed || !this.ranking.tick(Date.now(), this.isMember)) return;
    const { audio, order } = this.ranking.ranked;
    this.channel.publishRanking({ roomId: this.roomId, nodeId: this.nodeId, k: this.opts.k, audio, order: order.slice(0, 256) });
  }

  get current() {
    return { k: this.opts.k, ...this.ranking.ranked };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.sub.unsubscribe();
  }
}
