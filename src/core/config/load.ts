import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigSchema, type Config } from './schema.ts';

/** A config that failed validation; `problems` are `path: message` lines. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Environment variables that override single values (DESIGN §3). */
const ENV_OVERRIDES: ReadonlyArray<[env: string, path: string[], kind: 'string' | 'int']> = [
  ['TESSERA_SECRET', ['cluster', 'secret'], 'string'],
  ['TESSERA_DATA_DIR', ['dataDir'], 'string'],
  ['TESSERA_ROUTER_URL', ['router', 'url'], 'string'],
  ['TESSERA_WRITE_QUORUM', ['replication', 'writeQuorum'], 'int'],
  ['TESSERA_READ_QUORUM', ['replication', 'readQuorum'], 'int'],
  ['TESSERA_WRITE_TIMEOUT_MS', ['replication', 'writeTimeoutMs'], 'int'],
];

/** `shards[1].nodes[2].url` — the path notation the contract promises. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out || '(root)';
}

function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (raw === null || typeof raw !== 'object') return raw;
  const copy = structuredClone(raw) as Record<string, unknown>;
  for (const [name, path, kind] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let node = copy;
    for (const key of path.slice(0, -1)) {
      if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = kind === 'int' ? Number(value) : value;
  }
  return copy;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Validates a parsed config object. `baseDir` resolves a relative dataDir
 * (DESIGN §3: against the config file's folder). The result is deep-frozen.
 */
export function parseConfig(raw: unknown, opts: { baseDir: string; source?: string; env?: NodeJS.ProcessEnv }): Readonly<Config> {
  const result = ConfigSchema.safeParse(applyEnv(raw, opts.env ?? process.env));
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new ConfigError(opts.source ?? '(inline)', problems);
  }
  const cfg = result.data;
  cfg.dataDir = resolve(opts.baseDir, cfg.dataDir);
  // Certificate paths, like dataDir, are relative to the config's folder.
  const files = (t: { cert?: string | undefined; key?: string | undefined } | undefined) => {
    if (t?.cert !== undefined) t.cert = resolve(opts.baseDir, t.cert);
    if (t?.key !== undefined) t.key = resolve(opts.baseDir, t.key);
  };
  if (cfg.tls) {
    files(cfg.tls);
    cfg.tls.ca = resolve(opts.baseDir, cfg.tls.ca);
  }
  files(cfg.router.tls);
  for (const s of cfg.shards) for (const n of s.nodes) files(n.tls);
  return deepFreeze(cfg);
}

/** Reads, validates and freezes a config file. Throws ConfigError. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`(file): cannot read: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`(file): not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(raw, { baseDir: dirname(path), source: path, env });
}

/** The config with the secret and the token hashes masked, for logs and status output. */
export function redactConfig(cfg: Readonly<Config>): unknown {
  return {
    ...cfg,
    cluster: { ...cfg.cluster, secret: '[redacted]' },
    ...(cfg.auth ? { auth: { users: cfg.auth.users.map((u) => ({ ...u, tokenSha256: '[redacted]' })) } } : {}),
  };
}
