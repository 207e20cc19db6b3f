import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../errors.ts';
import { isRev, UINT_PATTERN } from '../doc/names.ts';

// Request headers both services read the same way.

/** The rev named by `If-Match` (quotes allowed), undefined when absent; 400 when it is not one rev. */
export function ifMatch(headers: IncomingHttpHeaders): string | undefined {
  const h = headers['if-match'];
  if (h === undefined) return undefined;
  const rev = String(h).replace(/^"(.*)"$/, '$1');
  if (!isRev(rev)) throw errors.badRequest('headers.if-match: must be one revision "<n>-<sha1 hex>"', { path: 'headers.if-match' });
  return rev;
}

/** Whether `If-None-Match` names this rev's ETag (`"<rev>"`, a list, weak tags, or `*`). */
export function noneMatchHit(headers: IncomingHttpHeaders, rev: string): boolean {
  const h = headers['if-none-match'];
  if (typeof h !== 'string') return false;
  return h.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === '*' || t === `"${rev}"`;
  });
}

const uint = new RegExp(UINT_PATTERN);

/** A non-negative integer header up to `max`, undefined when absent; 400 naming the header otherwise. */
export function uintHeader(headers: IncomingHttpHeaders, name: string, max: number): number | undefined {
  const raw = headers[name];
  if (raw === undefined) return undefined;
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || !uint.test(v) || Number(v) > max) {
    throw errors.badRequest(`headers.${name}: must be an integer in 0..${max}`, { path: `headers.${name}` });
  }
  return Number(v);
}
