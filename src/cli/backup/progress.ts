import { renderProgress } from './format.ts';

// The progress bar on stderr: redrawn in place on a terminal (at most every
// 200 ms), a plain line every 2 s otherwise (CI logs, pipes), and a last line
// when done. Quiet with `quiet`.

export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #label: string;
  readonly #started = Date.now();
  readonly #tty: boolean;
  readonly #timer: NodeJS.Timeout | null;
  totalDocs: number;
  bytes = 0;
  docs = 0;

  constructor(label: string, totalDocs: number, opts: { out?: NodeJS.WriteStream; quiet?: boolean } = {}) {
    this.#out = opts.out ?? process.stderr;
    this.#label = label;
    this.totalDocs = totalDocs;
    this.#tty = this.#out.isTTY === true;
    this.#timer = opts.quiet ? null : setInterval(() => this.#draw(false), this.#tty ? 200 : 2000);
    this.#timer?.unref();
  }

  add(bytes: number, docs: number): void {
    this.bytes += bytes;
    this.docs += docs;
  }

  #line(): string {
    return renderProgress({ bytes: this.bytes, docs: this.docs, totalDocs: Math.max(this.totalDocs, this.docs), elapsedMs: Date.now() - this.#started, label: this.#label });
  }

  #draw(last: boolean): void {
    if (this.#tty) this.#out.write(`\r\x1b[2K${this.#line()}${last ? '\n' : ''}`);
    else this.#out.write(`${this.#line()}\n`);
  }

  done(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#draw(true);
  }
}
