/**
 * The last `capacity` items pushed, oldest first. Child-process output is kept
 * this way so a long-running child costs bounded memory while an error
 * message can still show what it printed just before failing.
 */
export class RingBuffer<T> {
  readonly capacity: number;
  #items: T[] = [];
  #start = 0;
  #dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  push(item: T): void {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
      return;
    }
    this.#items[this.#start] = item;
    this.#start = (this.#start + 1) % this.capacity;
    this.#dropped++;
  }

  /** Items oldest first; `last` limits to the newest n. */
  toArray(last?: number): T[] {
    const all = [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
    return last === undefined ? all : all.slice(Math.max(0, all.length - last));
  }

  get size(): number {
    return this.#items.length;
  }

  /** How many items were pushed out to keep the bound. */
  get dropped(): number {
    return this.#dropped;
  }
}
