import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { killByPidFile, ManagedProcess, RingBuffer, startProcess, waitFor } from '../harness/index.ts';

// The launcher is exercised with tiny stand-in scripts instead of real
// tessera processes, so these tests pin its behaviour on their own.

let dir: string;
const scripts = {
  ready: `
    process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
    console.log('starting');
    console.error('a warning on stderr');
    console.log(JSON.stringify({ level: 30, msg: 'listening', url: 'http://127.0.0.1:1' }));
    setInterval(() => {}, 1000);`,
  earlyExit: `
    console.log('loading config');
    console.error('fatal: bad config shards[0].id');
    process.exit(3);`,
  stubborn: `
    process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
    console.log(JSON.stringify({ msg: 'listening' }));
    setInterval(() => {}, 1000);`,
  chatty: `
    for (let i = 0; i < 500; i++) console.log('line ' + i);
    console.log(JSON.stringify({ msg: 'listening' }));
    setInterval(() => {}, 1000);`,
  silent: `setInterval(() => {}, 1000);`,
  ticker: `
    console.log(JSON.stringify({ msg: 'listening' }));
    let n = 0;
    setInterval(() => console.log('tick ' + n++), 20);`,
};
const entry = (name: keyof typeof scripts) => join(dir, `${name}.mjs`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-harness-'));
  for (const [name, body] of Object.entries(scripts)) await writeFile(join(dir, `${name}.mjs`), body);
});

const started: ManagedProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.kill('SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

async function start(name: keyof typeof scripts, extra: Partial<ConstructorParameters<typeof ManagedProcess>[0]> = {}) {
  const p = new ManagedProcess({ name, args: [], entry: entry(name), timeoutMs: 5000, ...extra });
  started.push(p);
  return p.start();
}

function procState(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((s) => s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3));
}

describe('ManagedProcess', () => {
  it('resolves on the ready line, parses it, and keeps stdout and stderr', async () => {
    const p = await start('ready');
    expect(p.running).toBe(true);
    expect(p.url).toBe('http://127.0.0.1:1');
    await waitFor(() => p.log.toArray().includes('! a warning on stderr'), { timeoutMs: 2000 });
    expect(p.log.toArray()[0]).toBe('starting');
    const exit = await p.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(p.running).toBe(false);
    expect(p.tail()).toContain('bye');
  });

  it('rejects with the captured output when the child exits before it is ready', async () => {
    const err = await start('earlyExit').then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/earlyExit exited before it was ready \(code 3\)/);
    expect(err?.message).toContain('! fatal: bad config shards[0].id');
    expect(err?.message).toContain('loading config');
  });

  it('rejects and kills the child when no ready line arrives in time', async () => {
    const p = new ManagedProcess({ name: 'silent', args: [], entry: entry('silent'), timeoutMs: 300 });
    started.push(p);
    const err = await p.start().then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/silent not ready within 300 ms/);
    expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('keeps only the newest lines of a chatty child', async () => {
    const p = await start('chatty', { logLines: 50 });
    const lines = p.log.toArray();
    expect(lines).toHaveLength(50);
    expect(lines.at(-1)).toContain('listening');
    expect(lines[0]).toBe('line 451');
    expect(p.log.dropped).toBe(451);
  });

  it('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const p = await start('stubborn');
    const t0 = Date.now();
    const exit = await p.stop(300);
    expect(exit.signal).toBe('SIGKILL');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(p.tail()).toContain('ignoring SIGTERM');
  });

  it('pause() freezes the child and resume() lets it run again', async () => {
    const p = await start('ticker');
    const pid = p.pid!;
    p.pause();
    expect(p.paused).toBe(true);
    await waitFor(async () => (await procState(pid)) === 'T', { timeoutMs: 2000, message: 'stopped state' });
    p.resume();
    await waitFor(async () => (await procState(pid)) !== 'T', { timeoutMs: 2000, message: 'running state' });
    const before = p.log.toArray().length + p.log.dropped;
    await waitFor(() => p.log.toArray().length + p.log.dropped > before + 2, { timeoutMs: 2000, message: 'ticks after resume' });
  });

  it('records exits nobody asked for, and only those', async () => {
    const p = await start('ready');
    process.kill(p.pid!, 'SIGKILL');
    await p.exited;
    expect(p.unexpectedExits).toHaveLength(1);
    expect(p.unexpectedExits[0]).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(p.unexpectedExits[0]!.tail).toContain('listening');
    await p.start();
    await p.stop();
    await p.restart();
    await p.kill();
    expect(p.unexpectedExits).toHaveLength(1);
  });

  it('stop() ends a paused child too', async () => {
    const p = await start('ready');
    p.pause();
    const exit = await p.stop(2000);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('restart() runs a new child under the same object', async () => {
    const p = await start('ready');
    const first = p.pid;
    await p.kill('SIGKILL');
    expect(p.running).toBe(false);
    await p.restart();
    expect(p.running).toBe(true);
    expect(p.pid).not.toBe(first);
    expect(p.starts).toBe(2);
  });

  it('startProcess() is start() on a new object; starting twice is refused', async () => {
    const p = await startProcess({ name: 'ready2', args: [], entry: entry('ready'), timeoutMs: 5000 });
    started.push(p);
    await expect(p.start()).rejects.toThrow(/already running/);
  });

  it('children die with their parent even when it exits without stopping them', async () => {
    const moduleUrl = new URL('../../src/launch/managed-process.ts', import.meta.url).href;
    const parent = join(dir, 'parent.mts');
    await writeFile(parent, `
      import { startProcess } from ${JSON.stringify(moduleUrl)};
      const p = await startProcess({ name: 'c', args: [], entry: ${JSON.stringify(entry('ready'))} });
      console.log('child ' + p.pid);
      process.exit(0);`);
    const child = spawn(process.execPath, ['--import', 'tsx', parent], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    let pid = 0;
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^child (\d+)$/.exec(line);
      if (m) pid = Number(m[1]);
    }
    expect(pid).toBeGreaterThan(0);
    const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
    await waitFor(() => !alive(), { timeoutMs: 3000, message: `child ${pid} to be gone` });
  });
});

describe('RingBuffer', () => {
  it('keeps the newest items in order', () => {
    const rb = new RingBuffer<number>(3);
    for (let i = 1; i <= 7; i++) rb.push(i);
    expect(rb.toArray()).toEqual([5, 6, 7]);
    expect(rb.toArray(2)).toEqual([6, 7]);
    expect(rb.dropped).toBe(4);
  });
  it('below capacity holds everything', () => {
    const rb = new RingBuffer<string>(5);
    rb.push('a');
    rb.push('b');
    expect(rb.toArray()).toEqual(['a', 'b']);
    expect(rb.size).toBe(2);
  });
  it('rejects a non-positive capacity', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('killByPidFile', () => {
  it('kills a live process whose command line matches, and nothing else', async () => {
    const p = await startProcess({ name: 'pidfile', args: ['--marker-abc'], entry: entry('ready'), timeoutMs: 5000 });
    started.push(p);
    const file = join(dir, 'tessera.pid');
    await writeFile(file, `${p.pid}\n`);
    expect(killByPidFile(file, ['--marker-other'])).toBe(false);
    expect(killByPidFile(file, ['--marker-abc', 'absent'])).toBe(false);
    // A prefix of an argument is not a match.
    expect(killByPidFile(file, ['--marker'])).toBe(false);
    expect(p.running).toBe(true);
    expect(killByPidFile(file, ['--marker-abc', 'ready.mjs'])).toBe(true);
    expect(await p.exited).toMatchObject({ signal: 'SIGKILL' });
    // Now stale: the process is gone.
    expect(killByPidFile(file, ['--marker-abc'])).toBe(false);
    expect(killByPidFile(join(dir, 'missing.pid'), ['x'])).toBe(false);
  });
});
