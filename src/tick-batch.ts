/**
 * Gathers items and hands them on together: once per turn of the event loop, or at once when
 * `sendAt` are waiting, so that the thread taking them starts while this one still reads.
 */
export class TickBatch<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly sendAt: number,
    private readonly send: (items: T[]) => void,
  ) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.sendAt) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** How many wait to be handed on. */
  get size(): number {
    return this.items.length;
  }

  /** Takes what waits without handing it on. */
  drop(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  private flush(): void {
    if (this.items.length > 0) this.send(this.drop());
  }
}
