/**
 * A minimal typed event emitter. Node's EventEmitter is not in browsers and this package must
 * bundle for both without polyfills.
 */
export type EventMap = { [event: string]: unknown[] };
type Listener<A extends unknown[]> = (...args: A) => void;

/** Told about a listener that threw (the emitter carries on with the next one). */
export type ListenerErrorHandler = (error: unknown, event: string) => void;

/** The default: console.error, which browsers and Node both have. */
export const logListenerError: ListenerErrorHandler = (error, event) => console.error(`@strata/client: a listener of "${event}" threw`, error);

export class Emitter<E extends EventMap> {
  // Listeners of different events have different signatures; emit() restores each one's type.
  readonly #listeners = new Map<keyof E, Set<unknown>>();
  readonly #onListenerError: ListenerErrorHandler;

  constructor(onListenerError: ListenerErrorHandler = logListenerError) {
    this.#onListenerError = onListenerError;
  }

  /** Returns a function that removes the listener. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Resolves with the arguments of the next `event`. */
  next<K extends keyof E>(event: K): Promise<E[K]> {
    return new Promise((resolve) => this.once(event, (...args) => resolve(args)));
  }

  listenerCount(event: keyof E): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  /**
   * Calls every listener of `event`. Unlike Node's EventEmitter (and like mediasoup's
   * safeEmit), a listener that throws does not throw out of emit(): the client emits from
   * inside its own state changes and socket handlers, which an application's bug must not
   * abort half-way. The error goes to the handler given to the constructor, and the other
   * listeners still run.
   */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // Copy: a listener may remove itself (once) while we iterate.
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(...args);
      } catch (err) {
        try {
          this.#onListenerError(err, String(event));
        } catch {
          // A reporter that throws must not undo what the line above guarantees.
        }
      }
    }
  }
}
