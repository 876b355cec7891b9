/** k6-style metrics: a Trend keeps every sample (runs here are small) for exact percentiles. */
export class Trend {
  private readonly values: number[] = [];
  private sorted = true;

  add(v: number): void {
    this.values.push(v);
    this.sorted = false;
  }

  get count(): number {
    return this.values.length;
  }

  percentile(p: number): number {
    if (this.values.length === 0) return NaN;
    if (!this.sorted) {
      this.values.sort((a, b) => a - b);
      this.sorted = true;
    }
    const idx = Math.min(this.values.length - 1, Math.max(0, Math.ceil((p / 100) * this.values.length) - 1));
    return this.values[idx] as number;
  }

  get avg(): number {
    return this.values.reduce((a, b) => a + b, 0) / (this.values.length || 1);
  }

  summary(): { count: number; avg: number; p50: number; p95: number; p99: number; max: number } {
    return { count: this.count, avg: this.avg, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max: this.percentile(100) };
  }
}

export class Counter {
  value = 0;
  add(n = 1): void {
    this.value += n;
  }
}
