/** The video grid: one tile per participant, with its name, its tracks and a layer picker. */
export interface Tile {
  readonly root: HTMLElement;
  readonly video: HTMLVideoElement;
  readonly audio: HTMLAudioElement;
  setLabel(text: string): void;
  setMeta(text: string): void;
  /** Out of the room view (not among the speakers on screen, not pinned): hidden, not removed. */
  setShown(shown: boolean): void;
  setPinned(pinned: boolean): void;
}

export interface TileGridOptions {
  /** A remote tile's layer picker changed: -1 = automatic, 0..2 = spatial layer. */
  onLayerChange?: (peerId: string, spatialLayer: number) => void;
  /** Autoplay with sound was refused (no user gesture yet). */
  onAutoplayBlocked?: () => void;
  /** A remote tile's pin was toggled: a pinned peer stays on screen whoever speaks. */
  onPinChange?: (peerId: string, pinned: boolean) => void;
}

export class TileGrid {
  readonly #grid: HTMLElement;
  readonly #tiles = new Map<string, Tile>();
  readonly #opts: TileGridOptions;

  constructor(grid: HTMLElement, opts: TileGridOptions = {}) {
    this.#grid = grid;
    this.#opts = opts;
  }

  get(peerId: string): Tile | undefined {
    return this.#tiles.get(peerId);
  }

  /** `local`: the own camera preview, muted and without a layer picker. */
  upsert(peerId: string, label: string, local = false): Tile {
    const existing = this.#tiles.get(peerId);
    if (existing) {
      existing.setLabel(label);
      return existing;
    }
    const root = document.createElement('figure');
    root.className = local ? 'tile local' : 'tile';
    root.dataset['peerId'] = peerId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound goes through the <audio> element
    video.dataset['peerId'] = peerId;
    video.dataset['local'] = String(local);
    const audio = document.createElement('audio');
    audio.autoplay = true;
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'name';
    const meta = document.createElement('span');
    meta.className = 'meta';
    caption.append(name, meta);
    const pin = document.createElement('button');
    if (!local) caption.append(this.#layerPicker(peerId), pin);
    pin.className = 'pin';
    pin.type = 'button';
    pin.textContent = 'pin';
    pin.title = 'keep this participant on screen';
    pin.addEventListener('click', () => this.#opts.onPinChange?.(peerId, !root.classList.contains('pinned')));
    root.append(video, audio, caption);
    this.#grid.append(root);
    const tile: Tile = {
      root,
      video,
      audio,
      setLabel: (text) => (name.textContent = text),
      setMeta: (text) => (meta.textContent = text),
      setShown: (shown) => (root.hidden = !shown),
      setPinned: (pinned) => {
        root.classList.toggle('pinned', pinned);
        pin.textContent = pinned ? 'unpin' : 'pin';
      },
    };
    tile.setLabel(label);
    this.#tiles.set(peerId, tile);
    return tile;
  }

  remove(peerId: string): void {
    this.#tiles.get(peerId)?.root.remove();
    this.#tiles.delete(peerId);
  }

  clear(): void {
    for (const id of [...this.#tiles.keys()]) this.remove(id);
  }

  setTrack(peerId: string, kind: 'audio' | 'video', track: MediaStreamTrack | null): void {
    const tile = this.#tiles.get(peerId);
    if (!tile) return;
    const el = kind === 'video' ? tile.video : tile.audio;
    el.srcObject = track ? new MediaStream([track]) : null;
    if (!track) return;
    el.play().catch(() => {
      if (kind === 'audio') this.#opts.onAutoplayBlocked?.();
    });
  }

  setSpeaking(peerId: string | undefined): void {
    for (const [id, tile] of this.#tiles) tile.root.classList.toggle('speaking', id === peerId);
  }

  /** Retries playback after a user gesture. */
  playAll(): void {
    for (const tile of this.#tiles.values()) {
      if (tile.audio.srcObject) void tile.audio.play().catch(() => undefined);
      if (tile.video.srcObject) void tile.video.play().catch(() => undefined);
    }
  }

  #layerPicker(peerId: string): HTMLSelectElement {
    const select = document.createElement('select');
    select.title = 'video layer to receive';
    select.className = 'layers';
    for (const [value, text] of [
      ['-1', 'auto'],
      ['0', 'low'],
      ['1', 'mid'],
      ['2', 'high'],
    ] as const) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = text;
      select.append(o);
    }
    select.addEventListener('change', () => this.#opts.onLayerChange?.(peerId, Number(select.value)));
    return select;
  }
}
