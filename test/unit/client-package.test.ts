import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/launch/package-root.ts';
import { readmeBlock } from '../harness/readme.ts';

// `tessera/client` as an outside project sees it: a folder whose
// node_modules/tessera is this package. A plain Node ESM consumer imports it
// with no loader of its own; a TypeScript consumer type-checks against the
// real sources (README "Client library").

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-consumer-'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(PACKAGE_ROOT, join(dir, 'node_modules', 'tessera'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('package exports', () => {
  it('declare ./client with a types entry (the TypeScript sources) and a default entry for plain Node', async () => {
    const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(pkg.exports['./client']).toEqual({ types: './src/client/index.ts', default: './src/client/node.mjs' });
  });

  it('a plain Node ESM consumer imports tessera/client and gets working classes', async () => {
    await writeFile(join(dir, 'plain.mjs'), `
      import { TesseraClient, NotFoundError, errorFromAnswer, newDocId } from 'tessera/client';
      const c = new TesseraClient({ urls: ['http://127.0.0.1:9'] });
      const e = errorFromAnswer(404, { ok: false, error: 'not_found', message: 'x' });
      console.log(JSON.stringify({ client: typeof c.db, typed: e instanceof NotFoundError, id: newDocId().length }));
      await c.close();
    `);
    const { stdout } = await run(process.execPath, ['plain.mjs'], { cwd: dir, timeout: 15_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ client: 'function', typed: true, id: 20 });
  });

  it('the plain-Node entry exports every runtime name of the TypeScript entry (its list is written by hand)', async () => {
    const expected = Object.keys(await import('../../src/client/index.ts')).sort();
    await writeFile(join(dir, 'names.mjs'), "console.log(JSON.stringify(Object.keys(await import('tessera/client')).sort()));");
    const { stdout } = await run(process.execPath, ['names.mjs'], { cwd: dir, timeout: 15_000 });
    expect(JSON.parse(stdout.trim())).toEqual(expected);
  });

  it('a TypeScript consumer type-checks against the sources, and a wrong type is caught', async () => {
    await writeFile(join(dir, 'typed.ts'), `
      import { TesseraClient, ConflictError, type Doc } from 'tessera/client';
      interface Note { title: string; stars: number }
      const db = new TesseraClient({ urls: 'http://127.0.0.1:8080' }).db<Note>('notes');
      export async function title(id: string): Promise<string> {
        const d: Doc<Note> = await db.get(id);
        return d.data.title;
      }
      export async function bump(id: string) {
        try { return await db.update(id, (cur) => (cur ? { data: { ...cur.data, stars: cur.data.stars + 1 } } : undefined)); }
        catch (e) { if (e instanceof ConflictError) return null; throw e; }
      }
      // @ts-expect-error stars must be a number
      export const bad = db.put('x', { data: { title: 't', stars: 'five' } });
    `);
    // A project that runs TypeScript without a build step (tsx, vitest): noEmit, .ts import paths allowed.
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, allowImportingTsExtensions: true, skipLibCheck: true, types: ['node'], typeRoots: [join(PACKAGE_ROOT, 'node_modules', '@types')] },
      files: ['typed.ts', 'readme-example.ts'],
    }));
    // The README's example, as written, type-checks too (test/cluster/client-cluster.test.ts runs it).
    await writeFile(join(dir, 'readme-example.ts'), `${readmeBlock('## Client library', 'ts')}export {};\n`);
    const tsc = join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsc');
    await run(tsc, ['-p', dir], { cwd: dir, timeout: 60_000 });
    // The planted fault: without @ts-expect-error the wrong type must fail the check.
    await writeFile(join(dir, 'typed.ts'), (await readFile(join(dir, 'typed.ts'), 'utf8')).replace('// @ts-expect-error stars must be a number', ''));
    const failed = await run(tsc, ['-p', dir], { cwd: dir, timeout: 60_000 }).then(() => null, (e: { stdout: string }) => e.stdout);
    expect(failed).toMatch(/typed\.ts\(14,.*error TS2322/);
  });
});
