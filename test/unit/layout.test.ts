import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/launch/package-root.ts';

// The layout's dependency rules (README "Code layout"): each area may import
// only the areas listed for it. src/core is the leaf everything builds on;
// src/rules holds the pure protocol decisions and depends on the core alone;
// the services (router/, shard/) never import each other or the CLI; only
// src/cli, the composition root, imports the services. A small script, not
// a framework: it reads every import and dynamic import() of every source file.

const AREAS = ['src/core', 'src/rules', 'src/launch', 'src/check', 'src/client', 'src/cli', 'router', 'shard', 'scripts', 'bin'] as const;
type Area = (typeof AREAS)[number];

const ALLOWED: Record<Area, readonly Area[]> = {
  'src/core': ['src/core'],
  'src/rules': ['src/core', 'src/rules'],
  'src/launch': ['src/core', 'src/launch'],
  'src/check': ['src/core', 'src/rules', 'src/check'],
  'src/client': ['src/core', 'src/client'],
  router: ['src/core', 'src/rules', 'router'],
  shard: ['src/core', 'src/rules', 'shard'],
  'src/cli': ['src/core', 'src/rules', 'src/launch', 'src/check', 'src/client', 'src/cli', 'router', 'shard'],
  scripts: ['src/core', 'src/rules', 'src/launch', 'src/check', 'src/client', 'src/cli', 'scripts'],
  bin: ['src/cli'],
};

function areaOf(path: string): Area | null {
  for (const a of AREAS) if (path === a || path.startsWith(`${a}/`)) return a;
  return null;
}

/** Relative specifiers of static imports, re-exports and dynamic import() calls. */
function importsOf(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;
  for (let m = re.exec(source); m !== null; m = re.exec(source)) out.push(m[1]!);
  return out;
}

/** `file imports target` lines that break ALLOWED; paths relative to the package root. */
function violations(files: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [file, specs] of files) {
    const from = areaOf(file);
    if (from === null) continue;
    for (const spec of specs) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      const to = areaOf(target);
      if (to === null || !ALLOWED[from].includes(to)) out.push(`${file} imports ${target} (${from} may import ${ALLOWED[from].join(', ')})`);
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

describe('layout: import rules between areas', () => {
  it('the checker flags planted violations and passes allowed imports', () => {
    const planted = new Map<string, string[]>([
      ['src/core/errors.ts', ['../rules/quorum.ts']],
      ['src/rules/vote.ts', ['../../router/app.ts', '../core/protocol.ts']],
      ['router/api/writer.ts', ['../../shard/store/index.ts', '../../src/cli/main.ts', '../../src/rules/index.ts']],
      ['shard/app.ts', ['../router/app.ts']],
      ['src/launch/cluster.ts', ['../../router/main.ts']],
      ['scripts/bench.ts', ['../shard/main.ts', '../src/cli/bench-runner.ts']],
      ['src/cli/commands/router.ts', ['../../../router/main.ts']],
    ]);
    expect(violations(planted)).toEqual([
      expect.stringContaining('src/core/errors.ts imports src/rules/quorum.ts'),
      expect.stringContaining('src/rules/vote.ts imports router/app.ts'),
      expect.stringContaining('router/api/writer.ts imports shard/store/index.ts'),
      expect.stringContaining('router/api/writer.ts imports src/cli/main.ts'),
      expect.stringContaining('shard/app.ts imports router/app.ts'),
      expect.stringContaining('src/launch/cluster.ts imports router/main.ts'),
      expect.stringContaining('scripts/bench.ts imports shard/main.ts'),
    ]);
  });

  it('reads static, re-exported and dynamic imports', () => {
    expect(importsOf(`import a from './a.ts';\nexport { b } from '../b.ts';\nconst c = await import('./c.ts');\nimport './d.ts';\nimport x from 'fastify';`))
      .toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts']);
  });

  it('every source file of the repository keeps them', () => {
    const files = new Map<string, string[]>();
    for (const area of ['src', 'router', 'shard', 'scripts', 'bin']) {
      for (const f of sourceFiles(join(PACKAGE_ROOT, area))) {
        files.set(relative(PACKAGE_ROOT, f).split('\\').join('/'), importsOf(readFileSync(f, 'utf8')));
      }
    }
    expect(files.size).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });
});
