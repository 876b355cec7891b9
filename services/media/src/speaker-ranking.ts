/** One speaker's level in a leg's report: dBov, -127 (silence) to 0 (loudest). */
export interface Level {
  peerId: string;
  volume: number;
}

export interface RankingOptions {
  /** How many speakers' audio everyone receives. */
  k: number;
  /** A speaker who entered the top K stays at least this long (against flapping). */
  holdMs: number;
  /** A speaker not in any report for this long is silent. */
  silentAfterMs: number;
}

export interface Ranked {
  /** The top-K speakers, most recent first. */
  audio: string[];
  /** Every speaker who ever entered the top K, most recent first (the top K lead). */
  order: string[];
}

interface Heard {
  volume: number;
  at: number;
}

/**
 * The room's speaker ranking from every leg's level reports. Each leg hears only its own
 * producers, so legs exchange reports and each runs this on the same input: the same top K
 * everywhere, give or take a report in flight. Louder speakers get in first; a speaker in the
 * top K is replaced only by a louder one, and only after `holdMs` in it, so two people talking
 * over each other do not flip the view every interval. Deterministic: ties go by peer id.
 */
export class SpeakerRanking {
  /** Latest report of each leg, by node. */
  private readonly reports = new Map<string, { at: number; levels: Level[] }>();
  private top: { peerId: string; since: number }[] = [];
  private recency: string[] = [];

  constructor(private readonly opts: RankingOptions) {}

  /** A leg's report replaces its previous one: a speaker missing from it has stopped. */
  report(nodeId: string, levels: Level[], now: number): void {
    this.reports.set(nodeId, { at: now, levels });
  }

  /** A leg that closed or whose node is gone reports nothing any more. */
  dropLeg(nodeId: string): void {
    this.reports.delete(nodeId);
  }

  /** Who is speaking now, and how loud (the loudest report for a peer on several legs wins). */
  private heard(now: number): Map<string, Heard> {
    const out = new Map<string, Heard>();
    for (const { at, levels } of this.reports.values()) {
      if (now - at > this.opts.silentAfterMs) continue;
      for (const l of levels) {
        const prev = out.get(l.peerId);
        if (!prev || l.volume > prev.volume) out.set(l.peerId, { volume: l.volume, at });
      }
    }
    return out;
  }

  /**
   * Re-ranks at `now`; `isMember` drops peers who left. Returns whether the ranking changed.
   */
  tick(now: number, isMember: (peerId: string) => boolean): boolean {
    const before = this.key();
    this.top = this.top.filter((t) => isMember(t.peerId));
    this.recency = this.recency.filter(isMember);
    const heard = this.heard(now);
    const loudness = (peerId: string) => heard.get(peerId)?.volume ?? -Infinity;
    const candidates = [...heard.entries()]
      .filter(([peerId]) => isMember(peerId))
      .sort(([a, x], [b, y]) => y.volume - x.volume || (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId]) => peerId);
    for (const c of candidates) {
      if (this.top.some((t) => t.peerId === c)) continue;
      if (this.top.length < this.opts.k) {
        this.enter(c, now);
        continue;
      }
      // The quietest member that has had its hold time and is quieter than the challenger.
      let victim: number | undefined;
      for (const [i, t] of this.top.entries()) {
        if (now - t.since < this.opts.holdMs || loudness(t.peerId) >= loudness(c)) continue;
        const v = victim === undefined ? undefined : this.top[victim]!;
        if (!v || loudness(t.peerId) < loudness(v.peerId) || (loudness(t.peerId) === loudness(v.peerId) && t.since < v.since)) victim = i;
      }
      if (victim === undefined) continue;
      this.top.splice(victim, 1);
      this.enter(c, now);
    }
    return this.key() !== before;
  }

  private enter(peerId: string, now: number): void {
    this.top.unshift({ peerId, since: now });
    this.recency = [peerId, ...this.recency.filter((p) => p !== peerId)];
  }

  get ranked(): Ranked {
    const audio = this.top.map((t) => t.peerId);
    return { audio, order: [...audio, ...this.recency.filter((p) => !audio.includes(p))] };
  }

  private key(): string {
    const r = this.ranked;
    return `${r.audio.join(',')}|${r.order.join(',')}`;
  }
}
