/** Command-line numbers of the benchmarks: a bad value stops the run with the flag's name, never a NaN run. */
export function numberFlag(name: string, v: string | undefined, min: number): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x < min) throw new Error(`--${name} must be a number >= ${min}`);
  return x;
}

export function intFlag(name: string, v: string | undefined, min: number): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return x;
}
