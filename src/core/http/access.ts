import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, UserConfig } from '../config/index.ts';

// Client authentication and roles on the router (DESIGN §3 `auth`, §4).
// Pure: a header and a route's needs in, a decision out; the router's hook
// carries it out. Tokens are known only by their SHA-256, compared in
// constant time against every user (no early exit, so the time says nothing
// about which user, or whether any, matched).

/** What a route needs: `read` (GETs, queries, changes), `write` (document writes), `admin` (db create/delete, cluster changes). */
export type Need = 'read' | 'write' | 'admin';

export interface Principal {
  name: string;
  role: Role;
  /** Databases allowed; undefined = all. */
  dbs?: readonly string[];
}

export type Access = { kind: 'allow'; principal: Principal | null } | { kind: 'unauthorized' | 'forbidden'; reason: string };

const RANK: Record<Role, number> = { read: 0, readwrite: 1, admin: 2 };
const NEEDS: Record<Need, Role> = { read: 'read', write: 'readwrite', admin: 'admin' };

export const sha256Hex = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Finds the user whose token hashes to the one in `Authorization: Bearer <token>`, or null. */
export function authenticate(users: ReadonlyArray<UserConfig>, header: string | undefined): Principal | null {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  const given = createHash('sha256').update(header.slice(7)).digest();
  let found: UserConfig | null = null;
  for (const u of users) {
    if (timingSafeEqual(given, Buffer.from(u.tokenSha256, 'hex')) && found === null) found = u;
  }
  return found ? { name: found.name, role: found.role, ...(found.dbs ? { dbs: found.dbs } : {}) } : null;
}

/**
 * May `principal` do what a route `need`s, on database `db` (when the route
 * names one)? `cluster` routes (POST /v1/_cluster/...) need an admin of every
 * database: a db-scoped admin cannot fail over a shard holding others' data.
 */
export function decideAccess(principal: Principal | null, need: Need, db: string | undefined, opts: { cluster?: boolean } = {}): Access {
  if (principal === null) return { kind: 'unauthorized', reason: 'Missing or unknown token: send Authorization: Bearer <token>' };
  if (RANK[principal.role] < RANK[NEEDS[need]]) {
    return { kind: 'forbidden', reason: `${principal.name} has role ${principal.role}; this request needs ${NEEDS[need]}` };
  }
  if (opts.cluster && principal.dbs) return { kind: 'forbidden', reason: `${principal.name} is limited to some databases; cluster changes need an admin of all` };
  if (db !== undefined && principal.dbs && !principal.dbs.includes(db)) {
    return { kind: 'forbidden', reason: `${principal.name} may not use database ${db}` };
  }
  return { kind: 'allow', principal };
}

/** The databases of `all` a principal may see (GET /v1/db). */
export function visibleDbs(principal: Principal | null, all: string[]): string[] {
  return principal?.dbs ? all.filter((d) => principal.dbs!.includes(d)) : all;
}
