import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../core/config/index.ts';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { K8S_DEFAULTS, k8sConfig, k8sFiles, type K8sOptions } from '../k8s-manifests.ts';

// `tessera k8s-config --shards N [--out DIR]`: the Tessera config for a
// Kubernetes cluster's DNS names on stdout, or with --out the whole manifest
// folder (what deploy/kubernetes/ holds for 3 shards).

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const command: Command = {
  summary: 'the config (stdout) or, with --out DIR, the Kubernetes manifests of an N-shard cluster',
  options: {
    shards: { type: 'string' },
    namespace: { type: 'string' },
    image: { type: 'string' },
    domain: { type: 'string' },
    storage: { type: 'string' },
    routers: { type: 'string' },
    user: { type: 'string', multiple: true },
    out: { type: 'string' },
  },
  async run(values) {
    const fail = (msg: string) => {
      process.stderr.write(`tessera k8s-config: ${msg}\n`);
      return EXIT.usage;
    };
    const int = (v: unknown, name: string, fallback?: number): number | string => {
      if (v === undefined && fallback !== undefined) return fallback;
      if (typeof v !== 'string' || !/^[1-9][0-9]{0,2}$/.test(v)) return `--${name} must be a positive integer`;
      return Number(v);
    };
    const shards = int(values.shards, 'shards');
    if (typeof shards === 'string') return fail(`${shards} (the number of shards is required: --shards 3)`);
    const routers = int(values.routers, 'routers', K8S_DEFAULTS.routers);
    if (typeof routers === 'string') return fail(routers);
    const users: Array<K8sOptions['users'][number]> = [];
    for (const spec of (values.user as unknown as string[] | undefined) ?? []) {
      const m = /^([A-Za-z0-9_.-]{1,64}):(read|readwrite|admin):([0-9a-f]{64})$/.exec(spec);
      if (!m) return fail(`--user ${spec}: expected NAME:ROLE:SHA256 (role read, readwrite or admin; the hash from \`tessera token\`)`);
      users.push({ name: m[1]!, role: m[2] as 'read' | 'readwrite' | 'admin', tokenSha256: m[3]! });
    }
    const o: K8sOptions = {
      ...K8S_DEFAULTS,
      shards,
      routers,
      users,
      ...(typeof values.namespace === 'string' ? { namespace: values.namespace } : {}),
      ...(typeof values.image === 'string' ? { image: values.image } : {}),
      ...(typeof values.domain === 'string' ? { domain: values.domain } : {}),
      ...(typeof values.storage === 'string' ? { storage: values.storage } : {}),
    };
    if (!NAME.test(o.namespace)) return fail(`--namespace ${o.namespace}: not a DNS label`);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(o.domain)) return fail(`--domain ${o.domain}: not a DNS name`);
    if (!/^[1-9][0-9]*(Mi|Gi|Ti)$/.test(o.storage)) return fail(`--storage ${o.storage}: expected a size like 10Gi`);
    const config = k8sConfig(o);
    parseConfig(config, { baseDir: '/', env: {} }); // the generator's own output must be a valid config
    if (typeof values.out !== 'string') {
      process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
      return EXIT.ok;
    }
    const files = k8sFiles(o, values.out);
    await mkdir(values.out, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(values.out, name), text);
    process.stdout.write(`${Object.keys(files).map((f) => join(values.out as string, f)).join('\n')}\n`);
    return EXIT.ok;
  },
};
