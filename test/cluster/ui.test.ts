import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startCluster, writeTestConfig, type TestCluster } from '../harness/index.ts';

// The live topology page (/ui) in a real headless browser: Debian's chromium
// driven by playwright-core (never a downloaded browser; .ci/run installs
// chromium). The page must show every node with its role, update by itself
// (server-sent events), show the client rates, and — after the test SIGKILLs
// the primary — show the new primary and the election in its timeline.

const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
let cluster: TestCluster;
let profile: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  cluster = await startCluster(await writeTestConfig({ shards: 2, nodesPerShard: 3 }));
  profile = await mkdtemp(join(tmpdir(), 'tessera-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await cluster?.dispose();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('/ui', () => {
  it('shows shards × nodes, updates itself, and shows a new primary and its election after the primary is killed', async () => {
    const res = await page.goto(`${cluster.router.url}/ui`);
    expect(res?.status()).toBe(200);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 15_000 });
    for (const id of cluster.tc.nodeIds) await page.locator(`tr[data-node="${id}"]`).waitFor({ timeout: 15_000 });
    expect(await page.locator('section.shard[data-shard="0"] tr[data-role="primary"]').getAttribute('data-node')).toBe('s0a');
    expect(await page.locator('section.shard[data-shard="0"]').getAttribute('data-term')).toBe('1');

    // The rates move with client traffic (bounded: at most 200 writes or 10 s).
    await fetch(`${cluster.router.url}/v1/db/ui`, { method: 'PUT' });
    const until = Date.now() + 10_000;
    for (let i = 0; i < 200 && Date.now() < until; i++) {
      await fetch(`${cluster.router.url}/v1/db/ui/docs/d${i}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"data":{}}' });
      if (i % 20 === 19 && Number(await page.locator('#writes').textContent()) > 0) break;
    }
    await page.waitForFunction(() => Number(document.getElementById('writes')!.textContent) > 0, null, { timeout: 10_000 });

    await cluster.nodes.s0a!.kill('SIGKILL');
    // The page updates by itself: no reload from here on.
    const shard0 = page.locator('section.shard[data-shard="0"]');
    await page.waitForFunction(() => {
      const s = document.querySelector('section.shard[data-shard="0"]');
      const p = s?.getAttribute('data-primary');
      return p === 's0b' || p === 's0c';
    }, null, { timeout: 20_000 });
    const winner = (await shard0.getAttribute('data-primary'))!;
    expect(Number(await shard0.getAttribute('data-term'))).toBeGreaterThanOrEqual(2);
    expect(await shard0.locator(`tr[data-node="${winner}"]`).getAttribute('data-role')).toBe('primary');
    await page.locator('tr[data-node="s0a"][data-health="Offline"]').waitFor({ timeout: 15_000 });
    const election = page.locator(`#elections li[data-shard="0"][data-reason="primary_offline"][data-outcome="elected"][data-winner="${winner}"]`);
    await election.waitFor({ timeout: 15_000 });
    expect(await election.textContent()).toMatch(new RegExp(`shard 0 · primary_offline → ${winner} elected \\(term \\d+\\) in \\d+ ms`));
    // Shard 1 was left alone.
    expect(await page.locator('section.shard[data-shard="1"]').getAttribute('data-primary')).toBe('s1a');
    if (process.env.TESSERA_TEST_VERBOSE) await page.screenshot({ path: join(tmpdir(), 'tessera-ui.png'), fullPage: true });
  });

  it('is open and read-only; the event stream sends JSON snapshots', async () => {
    const ui = await fetch(`${cluster.router.url}/ui`);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    const snap = await (await fetch(`${cluster.router.url}/ui/snapshot`)).json() as { shards: unknown[]; rates: object; elections: unknown[] };
    expect(snap.shards).toHaveLength(2);
    expect(JSON.stringify(snap)).not.toContain(cluster.tc.config.cluster.secret);
    expect((await fetch(`${cluster.router.url}/ui`, { method: 'POST' })).status).toBe(405);
  });
});
