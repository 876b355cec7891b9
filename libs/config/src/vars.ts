/**
 * Typed parsers for environment variables. Each returns the parsed value or throws a plain
 * message; loadConfig() prefixes it with the variable's name so the operator knows what to fix.
 */
export interface VarSpec<T> {
  readonly kind: string;
  readonly description: string;
  /** Used when the variable is unset or empty. Absent means the variable is required. */
  readonly fallback?: T | undefined;
  readonly hasFallback: boolean;
  parse(raw: string): T;
}

interface Common<T> {
  description: string;
  default?: T;
}

function makeVar<T>(kind: string, opts: Common<T>, parse: (raw: string) => T): VarSpec<T> {
  return { kind, description: opts.description, fallback: opts.default, hasFallback: 'default' in opts, parse };
}

export function str(opts: Common<string> & { pattern?: RegExp; maxLength?: number }): VarSpec<string> {
  return makeVar('string', opts, (raw) => {
    if (opts.maxLength !== undefined && raw.length > opts.maxLength) throw new Error(`longer than ${opts.maxLength} characters`);
    if (opts.pattern && !opts.pattern.test(raw)) throw new Error(`does not match ${String(opts.pattern)}`);
    return raw;
  });
}

export function int(opts: Common<number> & { min?: number; max?: number }): VarSpec<number> {
  return makeVar('integer', opts, (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`"${raw}" is not an integer`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw new Error(`"${raw}" is out of range`);
    if (opts.min !== undefined && n < opts.min) throw new Error(`${n} is below the minimum ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) throw new Error(`${n} is above the maximum ${opts.max}`);
    return n;
  });
}

/** A TCP/UDP port; 0 asks the OS for a free one. */
export function port(opts: Common<number>): VarSpec<number> {
  const inner = int({ ...opts, min: 0, max: 65535 });
  return { ...inner, kind: 'port' };
}

/** Milliseconds, written as a plain integer (ms) or with a unit: 250ms, 30s, 5m. */
export function duration(opts: Common<number> & { min?: number; max?: number }): VarSpec<number> {
  return makeVar('duration', opts, (raw) => {
    const m = /^(\d+)(ms|s|m)?$/.exec(raw.trim());
    if (!m) throw new Error(`"${raw}" is not a duration (examples: 500, 250ms, 30s, 5m)`);
    const n = Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
    if (opts.min !== undefined && n < opts.min) throw new Error(`${n} ms is below the minimum ${opts.min} ms`);
    if (opts.max !== undefined && n > opts.max) throw new Error(`${n} ms is above the maximum ${opts.max} ms`);
    return n;
  });
}

export function bool(opts: Common<boolean>): VarSpec<boolean> {
  return makeVar('boolean', opts, (raw) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new Error(`"${raw}" is not a boolean (use true/false, 1/0, yes/no, on/off)`);
  });
}

export function oneOf<const T extends string>(values: readonly T[], opts: Common<T>): VarSpec<T> {
  return makeVar(`one of ${values.join('|')}`, opts, (raw) => {
    if (!(values as readonly string[]).includes(raw)) throw new Error(`"${raw}" is not one of ${values.join(', ')}`);
    return raw as T;
  });
}

export function url(opts: Common<string> & { protocols?: readonly string[] }): VarSpec<string> {
  return makeVar('url', opts, (raw) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error(`"${raw}" is not a URL`);
    }
    if (opts.protocols && !opts.protocols.includes(u.protocol.replace(/:$/, ''))) {
      throw new Error(`"${raw}" must use ${opts.protocols.join(' or ')}`);
    }
    return raw;
  });
}

/** Comma-separated list of items, each parsed by `item`. */
export function list<T>(item: VarSpec<T>, opts: Common<T[]>): VarSpec<T[]> {
  return makeVar(`list of ${item.kind}`, opts, (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => item.parse(s)),
  );
}
