import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseConfig } from '../../src/core/config/index.ts';

// There is no Docker engine where the tests run: the compose demo is checked
// statically against config/docker.json and the Dockerfile.

const root = new URL('../../', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

interface Service {
  command?: string[];
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  build?: unknown;
  image?: string;
}
const compose = parse(read('docker-compose.replication.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const rawDocker = JSON.parse(read('config/docker.json'));
const docker = parseConfig(rawDocker, { baseDir: '/app/config', env: {} });
const nodes = docker.shards.flatMap((s) => s.nodes.map((n) => ({ ...n, shard: s.id })));
const CONFIG_IN_IMAGE = '/app/config/docker.json';

describe('config/docker.json', () => {
  it('is valid: 3 shards x 3 nodes named shard-<s>-<n> on port 7000, router on router:8080, data in /data', () => {
    expect(docker.shards).toHaveLength(3);
    for (const s of docker.shards) expect(s.nodes).toHaveLength(3);
    for (const n of nodes) {
      const url = new URL(n.url);
      expect(n.id).toMatch(new RegExp(`^shard-${n.shard}-[0-2]$`));
      expect(url.hostname).toBe(n.id);
      expect(url.port).toBe('7000');
    }
    expect(docker.router.url).toBe('http://router:8080');
    expect(docker.dataDir).toBe('/data');
    expect(docker.replication.writeQuorum).toBe(2);
  });
});

describe('docker-compose.replication.yml', () => {
  it('has exactly the router and one service per node', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['router', ...nodes.map((n) => n.id)].sort());
  });

  it.each(nodes.map((n) => [n.id]))('%s runs that node of docker.json on 0.0.0.0 with its own volume and a /healthz check', (id) => {
    const svc = compose.services[id]!;
    expect(svc.command).toEqual(['shard', '--config', CONFIG_IN_IMAGE, '--node', id, '--host', '0.0.0.0']);
    expect(svc.expose).toContain('7000');
    expect(svc.ports).toBeUndefined();
    const dataVolume = svc.volumes!.find((v) => v.endsWith(':/data'))!;
    expect(dataVolume).toBeDefined();
    const volumeName = dataVolume.split(':')[0]!;
    expect(Object.keys(compose.volumes)).toContain(volumeName);
    expect(svc.volumes).toContain(`./config/docker.json:${CONFIG_IN_IMAGE}:ro`);
    const check = svc.healthcheck!.test.join(' ');
    expect(check).toContain('http://127.0.0.1:7000/healthz');
    expect(svc.healthcheck!.test[0]).toBe('CMD');
    expect(svc.environment!.TESSERA_SECRET).toBe('${TESSERA_SECRET:-change-me-demo}');
    expect(svc.build).toBe('.');
  });

  it('gives every node a different volume', () => {
    const vols = nodes.map((n) => compose.services[n.id]!.volumes!.find((v) => v.endsWith(':/data')));
    expect(new Set(vols).size).toBe(nodes.length);
  });

  it('publishes the router on 8080 and starts it only after every node is healthy', () => {
    const router = compose.services.router!;
    expect(router.command).toEqual(['router', '--config', CONFIG_IN_IMAGE, '--host', '0.0.0.0']);
    expect(router.ports).toEqual(['8080:8080']);
    expect(Object.keys(router.depends_on!).sort()).toEqual(nodes.map((n) => n.id).sort());
    for (const dep of Object.values(router.depends_on!)) expect(dep.condition).toBe('service_healthy');
    expect(router.environment!.TESSERA_SECRET).toBe('${TESSERA_SECRET:-change-me-demo}');
  });

  it('never hard-codes a secret other than the env default', () => {
    const text = read('docker-compose.replication.yml');
    expect(text.match(/^\s+TESSERA_SECRET:/gm)).toHaveLength(1);
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const finalStage = lines.slice(lines.findLastIndex((l) => l.startsWith('FROM ')));

  it('runs on node:20-slim as a non-root user', () => {
    expect(finalStage[0]).toMatch(/^FROM node:20-slim\b/);
    const user = finalStage.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)\b/);
  });

  it('installs production dependencies only, from the lock file', () => {
    const installs = lines.filter((l) => /\bnpm (ci|install|i)\b/.test(l));
    expect(installs.length).toBeGreaterThan(0);
    for (const l of installs) expect(l).toMatch(/npm ci --omit=dev/);
    expect(lines).toContain('COPY package.json package-lock.json ./');
  });

  it('copies the runtime folders and exposes the router and node ports', () => {
    for (const dir of ['bin', 'src', 'router', 'shard', 'config']) expect(finalStage).toContain(`COPY ${dir}/ ./${dir}/`);
    expect(finalStage.some((l) => l.startsWith('COPY test') || l.startsWith('COPY scripts'))).toBe(false);
    expect(finalStage).toContain('EXPOSE 8080 7000');
  });
});
