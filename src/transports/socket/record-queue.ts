// Back-pressure between the admin socket and whoever consumes its records (host scans, history).
/**
 * Records between the socket and their consumer: reading pauses when HIGH are waiting and resumes
 * at LOW, so memory stays flat whatever the consumer's pace.
 */
export class RecordQueue<T> {
  static readonly HIGH = 1000;
  static readonly LOW = 250;
  private items: (T | undefined)[] = [];
  private head = 0;
  private paused = false;
  private waiting: (() => void) | undefined;

  constructor(private readonly pause: () => void, private readonly resume: () => void) {}

  push(item: T): void {
    this.items.push(item);
    if (!this.paused && this.items.length - this.head >= RecordQueue.HIGH) {
      this.paused = true;
      this.pause();
    }
    this.wake();
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    if (this.paused && this.items.length - this.head <= RecordQueue.LOW) {
      this.paused = false;
      this.resume();
    }
    return item;
  }

  /** Resolves at the next push (or wake). */
  arrival(): Promise<void> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /**
   * Yields each record as it arrives until `done()` (the reading has settled) and nothing is left,
   * or until `stopped()`. A consumer that gives up first (or a stop) calls `abandon()` while the
   * reading is still going: the connection goes, and with it the work in the server.
   */
  async *drain(done: () => boolean, abandon: () => void, stopped: () => boolean = () => false): AsyncGenerator<T> {
    try {
      for (;;) {
        if (stopped()) return;
        const next = this.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (done()) return;
        await this.arrival();
      }
    } finally {
      if (!done()) abandon();
    }
  }
}
