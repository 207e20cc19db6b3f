import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../core/config/index.ts';
import { makeCerts } from '../certs.ts';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';

// `tessera certs --config F --out DIR` (DESIGN §2): a local CA, a certificate
// per process, and DIR/config.json — F on https with those certificates —
// for tests and demos (src/cli/certs.ts says how and why openssl).

export const command: Command = {
  summary: 'make a local CA, a certificate per process of a config, and that config on https (--config F --out DIR)',
  options: {
    config: { type: 'string' },
    out: { type: 'string' },
    days: { type: 'string' },
  },
  async run(values) {
    const file = typeof values.config === 'string' ? values.config : undefined;
    const out = typeof values.out === 'string' ? values.out : undefined;
    const days = values.days === undefined ? 825 : Number(values.days);
    if (!file || !out || !Number.isInteger(days) || days < 1) {
      process.stderr.write('usage: tessera certs --config F --out DIR [--days N]\n');
      return EXIT.usage;
    }
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(resolve(file), 'utf8')) as Record<string, unknown>;
    } catch (err) {
      process.stderr.write(`tessera certs: cannot read ${file}: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    if (raw.tls !== undefined) {
      process.stderr.write(`tessera certs: ${file} already has a tls block; give it a config on http://\n`);
      return EXIT.usage;
    }
    try {
      const r = makeCerts(raw, dirname(resolve(file)), out, days);
      process.stdout.write(`${r.files.map((f) => resolve(out, f)).join('\n')}\n`);
      process.stderr.write(`Start the cluster with: tessera cluster --config ${r.configPath}\nClients trust ${r.ca} (curl --cacert, NODE_EXTRA_CA_CERTS).\n`);
      return EXIT.ok;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`tessera certs: ${err.message}\n`);
        return EXIT.usage;
      }
      process.stderr.write(`tessera certs: ${(err as Error).message}\n`);
      return EXIT.failed;
    }
  },
};
