import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseConfig, type Config } from '../core/config/index.ts';

// `tessera certs`: a local CA and one certificate per process of a config,
// for tests and demos. Keys are EC P-256; certificates are signed with the
// `openssl` command line (OpenSSL 3 or 1.1.1), because Node's crypto can make
// keys but not X.509 certificates, and the alternative was some ten npm
// packages of ASN.1 code in the supply chain of a database for a demo tool.
// Every process's certificate names its URL's host (an IP or a DNS name) as
// subjectAltName, which is what clients verify.

export interface CertsResult {
  /** The config with https URLs and per-process tls blocks, written next to the certificates. */
  configPath: string;
  ca: string;
  files: string[];
}

/** `openssl` with its stderr in the error when it fails (a missing binary says so). */
function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to sign certificates (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

const CA_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = Tessera local CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

const leafCnf = (cn: string) => `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${cn}
`;

const leafExt = (host: string) => `[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = ${isIP(host) ? 'IP' : 'DNS'}:${host}
`;

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Writes `ca.pem`, `ca-key.pem`, `<id>.pem` and `<id>-key.pem` for the router
 * and every node into `outDir`, and `config.json`: the input config with
 * https URLs, the top-level `tls` (the CA) and per-process `tls` blocks, its
 * paths relative to `outDir` and its dataDir pointing where the input's did.
 */
export function makeCerts(raw: Record<string, unknown>, inputDir: string, outDir: string, days = 825): CertsResult {
  const cfg: Readonly<Config> = parseConfig(raw, { baseDir: inputDir, env: {} });
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'tessera-certs-'));
  const files: string[] = [];
  try {
    writeFileSync(join(work, 'ca.cnf'), CA_CNF);
    openssl(['req', '-x509', '-new', '-config', join(work, 'ca.cnf'), '-extensions', 'v3_ca', ...EC, '-keyout', join(out, 'ca-key.pem'), '-out', join(out, 'ca.pem'), '-days', String(days)], work);
    files.push('ca.pem', 'ca-key.pem');
    const sign = (id: string, url: string) => {
      const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
      writeFileSync(join(work, `${id}.cnf`), leafCnf(id));
      writeFileSync(join(work, `${id}.ext`), leafExt(host));
      openssl(['req', '-new', '-config', join(work, `${id}.cnf`), ...EC, '-keyout', join(out, `${id}-key.pem`), '-out', join(work, `${id}.csr`)], work);
      openssl(['x509', '-req', '-in', join(work, `${id}.csr`), '-CA', join(out, 'ca.pem'), '-CAkey', join(out, 'ca-key.pem'),
        '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(days), '-sha256',
        '-extfile', join(work, `${id}.ext`), '-extensions', 'v3_leaf', '-out', join(out, `${id}.pem`)], work);
      files.push(`${id}.pem`, `${id}-key.pem`);
      return { cert: `${id}.pem`, key: `${id}-key.pem` };
    };
    const https = (url: string) => url.replace(/^http:/, 'https:');
    const copy = structuredClone(raw) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    copy.router = { ...copy.router, url: https(cfg.router.url), tls: sign('router', cfg.router.url) };
    copy.shards = cfg.shards.map((s, i) => ({
      ...copy.shards[i],
      nodes: s.nodes.map((n, j) => ({ ...copy.shards[i].nodes[j], url: https(n.url), tls: sign(n.id, n.url) })),
    }));
    copy.tls = { ca: 'ca.pem' };
    copy.dataDir = relative(out, cfg.dataDir) || '.';
    for (const f of files) if (f.endsWith('-key.pem')) chmodSync(join(out, f), 0o600);
    // What every process will read: refuse to write a config they would refuse.
    parseConfig(copy, { baseDir: out, env: {} });
    const configPath = join(out, 'config.json');
    writeFileSync(configPath, `${JSON.stringify(copy, null, 2)}\n`);
    return { configPath, ca: join(out, 'ca.pem'), files: [...files, 'config.json'] };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
