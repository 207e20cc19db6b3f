import { randomBytes } from 'node:crypto';
import { ROLES, type Role } from '../../core/config/index.ts';
import { sha256Hex } from '../../core/http/access.ts';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';

// `tessera token --name N --role R [--db D ...]` (DESIGN §2): a new random
// client token and the `auth.users` line that admits it. The config keeps
// only the token's SHA-256; the token itself is printed once, here, and
// stored nowhere else.

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const DB = /^[a-z][a-z0-9_-]{0,63}$/;

/** A token: `tsr_` and 32 random bytes in base64url (256 bits). */
export function newToken(): string {
  return `tsr_${randomBytes(32).toString('base64url')}`;
}

export function userLine(name: string, role: Role, token: string, dbs: string[]): string {
  return JSON.stringify({ name, tokenSha256: sha256Hex(token), role, ...(dbs.length > 0 ? { dbs } : {}) });
}

export const command: Command = {
  summary: 'print a new client token and its auth.users config line (--name N --role read|readwrite|admin [--db D ...])',
  options: {
    name: { type: 'string' },
    role: { type: 'string' },
    db: { type: 'string', multiple: true },
  },
  async run(values) {
    const name = typeof values.name === 'string' ? values.name : undefined;
    const role = typeof values.role === 'string' ? values.role : undefined;
    const dbs = (values.db as unknown as string[] | undefined) ?? [];
    const usage = (why: string) => {
      process.stderr.write(`tessera token: ${why}\nusage: tessera token --name N --role ${ROLES.join('|')} [--db D ...]\n`);
      return EXIT.usage;
    };
    if (!name || !NAME.test(name)) return usage('--name must match [A-Za-z0-9_.@-]{1,64}');
    if (!role || !(ROLES as readonly string[]).includes(role)) return usage(`--role must be one of ${ROLES.join(', ')}`);
    const bad = dbs.find((d) => !DB.test(d));
    if (bad !== undefined) return usage(`--db ${bad}: db names match [a-z][a-z0-9_-]{0,63}`);
    const token = newToken();
    process.stdout.write(`token: ${token}\nconfig: ${userLine(name, role as Role, token, dbs)}\n`);
    process.stderr.write('Add the config line to "auth": {"users": [...]} and restart the router; give the token to the client (Authorization: Bearer <token>). It is not stored anywhere.\n');
    return EXIT.ok;
  },
};
