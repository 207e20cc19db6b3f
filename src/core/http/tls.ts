import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { tlsFor, type Config, type TlsPaths } from '../config/index.ts';

// TLS material of one process, read once at start-up (DESIGN §3 `tls`): its
// certificate and key to serve HTTPS, and the CA it verifies peers against.

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
  }
}

export function readTls(paths: TlsPaths): TlsMaterial {
  return { cert: read(paths.cert, 'certificate'), key: read(paths.key, 'key'), ca: read(paths.ca, 'CA') };
}

/** The TLS material of the router or a node of `cfg`, or null when the config has no `tls`. */
export function tlsMaterial(cfg: Readonly<Config>, who: 'router' | { nodeId: string }): TlsMaterial | null {
  const paths = tlsFor(cfg, who);
  return paths ? readTls(paths) : null;
}

/** The CA of a TLS config (to verify its processes), or undefined without TLS. */
export function configCa(cfg: Readonly<Config>): Buffer | undefined {
  return cfg.tls ? read(cfg.tls.ca, 'CA') : undefined;
}

/** An undici dispatcher that trusts `ca` (CLI commands, launchers and tests talking to a TLS cluster). */
export function trustingAgent(ca: Buffer | undefined): Agent | undefined {
  return ca ? new Agent({ connect: { ca } }) : undefined;
}
