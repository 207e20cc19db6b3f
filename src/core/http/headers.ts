import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../errors.ts';
import { UINT_PATTERN } from '../doc/names.ts';

// Request headers both services read the same way.

/** The rev named by `If-Match` (quotes allowed), or undefined when absent or empty. */
export function ifMatch(headers: IncomingHttpHeaders): string | undefined {
  const h = headers['if-match'];
  return typeof h === 'string' && h.length > 0 ? h.replace(/^"(.*)"$/, '$1') : undefined;
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
