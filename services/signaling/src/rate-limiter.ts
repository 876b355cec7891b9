/** Token bucket: `ratePerSec` on average, up to `burst` at once. */
export class RateLimiter {
  private tokens: number;
  private last = Date.now();
  /** Requests refused since the socket opened; many of them close the socket. */
  refused = 0;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refused++;
    return false;
  }
}
