import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RingBuffer } from './ring-buffer.ts';

// One child process of the `tessera` executable (or any node script), as used
// by `tessera cluster`, the bench script and the test harness. Modelled on the
// nats.js server launcher: wait for a ready line on stdout while racing the
// child's early exit, keep a capped buffer of its output for error messages,
// and make sure no child outlives its parent.

/** The package's executable; children run it with this very Node binary. */
export const TESSERA_BIN = fileURLToPath(new URL('../../bin/tessera.mjs', import.meta.url));

/** The info line every tessera server logs once it accepts connections. */
export const LISTENING_PATTERN = /"msg":"listening"/;

export interface ProcessSpec {
  /** Label for messages and log prefixes (e.g. the node id). */
  name: string;
  /** Arguments after the entry script, e.g. ['shard', '--config', f, '--node', 's0a']. */
  args: string[];
  /** Script run with process.execPath; default bin/tessera.mjs. */
  entry?: string;
  /** Merged over process.env; a key set to undefined is removed. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Matched against every stdout line; default the `listening` log line. null: ready on spawn. */
  readyPattern?: RegExp | null;
  /** Deadline for the ready line, default 20 s. */
  timeoutMs?: number;
  /** Output lines kept for error messages, default 200. */
  logLines?: number;
  /** Called for every output line (after it is buffered). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Every child still running, killed if this process exits without stopping them. */
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: process.kill is, and SIGKILL also
  // ends a child that is paused with SIGSTOP.
  process.on('exit', () => {
    for (const p of live) p.signal('SIGKILL');
  });
}

export class ManagedProcess {
  readonly spec: Required<Omit<ProcessSpec, 'env' | 'cwd' | 'onLine'>> & Pick<ProcessSpec, 'env' | 'cwd' | 'onLine'>;
  /** The newest output lines of this child across restarts; stderr lines start with `! `. */
  readonly log: RingBuffer<string>;
  /** The line that matched readyPattern, parsed when it is JSON. */
  readyInfo: Record<string, unknown> | undefined;
  #child: ChildProcess | null = null;
  #exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  #running = false;
  #paused = false;
  #starts = 0;
  #stopRequested = false;
  /** Exits nobody asked for through this object (a crash, or a kill from outside). */
  readonly unexpectedExits: Array<ExitInfo & { tail: string }> = [];

  constructor(spec: ProcessSpec) {
    this.spec = {
      entry: TESSERA_BIN,
      readyPattern: LISTENING_PATTERN,
      timeoutMs: 20_000,
      logLines: 200,
      ...definedOnly(spec),
      name: spec.name,
      args: spec.args,
    };
    this.log = new RingBuffer(this.spec.logLines);
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#running;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** How many times this process was started (restarts included). */
  get starts(): number {
    return this.#starts;
  }

  /** Resolves when the current child has exited and its output is drained. */
  get exited(): Promise<ExitInfo> {
    return this.#exited;
  }

  /** The URL from the ready line, when it carried one. */
  get url(): string | undefined {
    const u = this.readyInfo?.url;
    return typeof u === 'string' ? u : undefined;
  }

  /** The last `n` output lines, one per line, for error messages. */
  tail(n = 40): string {
    return this.log.toArray(n).join('\n');
  }

  /**
   * Spawns the child and resolves once it printed its ready line. Rejects,
   * with the captured output, if it exits first or the deadline passes (the
   * child is then killed).
   */
  start(): Promise<this> {
    if (this.#running) return Promise.reject(new Error(`${this.name} is already running (pid ${this.pid})`));
    installExitHook();
    this.#starts++;
    this.readyInfo = undefined;
    this.#paused = false;
    this.#stopRequested = false;
    const child = spawn(process.execPath, [this.spec.entry, ...this.spec.args], {
      cwd: this.spec.cwd,
      env: childEnv(this.spec.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#running = true;
    live.add(this);

    let onReadyLine: ((line: string) => void) | null = null;
    const watch = (stream: NodeJS.ReadableStream, kind: 'stdout' | 'stderr') => {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        this.log.push(kind === 'stderr' ? `! ${line}` : line);
        this.spec.onLine?.(line, kind);
        if (kind === 'stdout' && onReadyLine) onReadyLine(line);
      });
    };
    watch(child.stdout!, 'stdout');
    watch(child.stderr!, 'stderr');

    // 'close' (not 'exit') fires after stdio is drained, so the log is
    // complete when `exited` resolves and when an early-exit error is built.
    this.#exited = new Promise<ExitInfo>((resolve) => {
      let spawnError: Error | undefined;
      child.once('error', (err) => {
        spawnError = err;
        this.log.push(`! spawn error: ${err.message}`);
      });
      child.once('close', (code, signal) => {
        this.#running = false;
        this.#paused = false;
        live.delete(this);
        const info = { code: code ?? (spawnError ? -1 : null), signal };
        if (!this.#stopRequested) this.unexpectedExits.push({ ...info, tail: this.tail(20) });
        resolve(info);
      });
    });

    if (this.spec.readyPattern === null) return Promise.resolve(this);
    const pattern = this.spec.readyPattern;
    return new Promise<this>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        onReadyLine = null;
        this.#stopRequested = true;
        this.signal('SIGKILL');
        reject(new Error(`${this.name} not ready within ${this.spec.timeoutMs} ms; last output:\n${this.tail()}`));
      }, this.spec.timeoutMs);
      onReadyLine = (line) => {
        if (settled || !pattern.test(line)) return;
        settled = true;
        onReadyLine = null;
        clearTimeout(timer);
        try {
          this.readyInfo = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.readyInfo = { line };
        }
        resolve(this);
      };
      void this.#exited.then((info) => {
        if (settled) return;
        settled = true;
        onReadyLine = null;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before it was ready (${describeExit(info)}); last output:\n${this.tail()}`));
      });
    });
  }

  /** Sends a signal to the current child; false when it is not running. */
  signal(sig: NodeJS.Signals): boolean {
    const pid = this.#child?.pid;
    if (!this.#running || pid === undefined) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Sends `sig` (default SIGKILL) and waits for the exit. A SIGTERM to a
   * paused child only takes effect once it continues, so it is resumed too.
   */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    if (!this.#running) return this.#exited;
    this.#stopRequested = true;
    this.signal(sig);
    if (this.#paused && sig !== 'SIGKILL') this.resume();
    return this.#exited;
  }

  /** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
  async stop(graceMs = 5_000): Promise<ExitInfo> {
    if (!this.#running) return this.#exited;
    this.#stopRequested = true;
    this.signal('SIGTERM');
    if (this.#paused) this.resume();
    let timer: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((r) => {
      timer = setTimeout(r, graceMs);
    });
    const first = await Promise.race([this.#exited, escalate.then(() => null)]);
    clearTimeout(timer);
    if (first) return first;
    this.signal('SIGKILL');
    return this.#exited;
  }

  /** SIGSTOP: the process freezes with its sockets open (a hung peer). */
  pause(): void {
    if (this.signal('SIGSTOP')) this.#paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (this.signal('SIGCONT')) this.#paused = false;
  }

  /** Stops the child if it runs (SIGTERM, then SIGKILL) and starts it again with the same spec. */
  async restart(graceMs = 5_000): Promise<this> {
    await this.stop(graceMs);
    return this.start();
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function childEnv(overrides: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/** Spawns a process and waits for its ready line (see ManagedProcess.start). */
export function startProcess(spec: ProcessSpec): Promise<ManagedProcess> {
  return new ManagedProcess(spec).start();
}
