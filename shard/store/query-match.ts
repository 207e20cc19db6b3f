import { canonicalJson } from '../../src/core/doc/canonical.ts';
import type { Doc } from '../../src/core/protocol.ts';

// Filters for _find/fields and _find/tags, over one document's `data` and
// `tags`. Plain functions: the store scans, these decide.

export interface FieldsQuery {
  /** Top-level data fields that must equal these values, JSON type included (1 ≠ "1"). */
  equalsMap?: Record<string, unknown>;
  /** A top-level data field that must be a number within [min, max]. */
  numericField?: string;
  min?: number;
  max?: number;
}

export interface TagsQuery {
  allOf?: ReadonlyArray<string>;
  anyOf?: ReadonlyArray<string>;
  noneOf?: ReadonlyArray<string>;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  return canonicalJson(a) === canonicalJson(b);
}

export function matchesFields(doc: Doc, q: FieldsQuery): boolean {
  const data = doc.data;
  if (q.equalsMap) {
    for (const [k, v] of Object.entries(q.equalsMap)) {
      if (!Object.hasOwn(data, k) || !sameJson(data[k], v)) return false;
    }
  }
  if (q.numericField !== undefined) {
    const v = Object.hasOwn(data, q.numericField) ? data[q.numericField] : undefined;
    if (typeof v !== 'number') return false;
    if (q.min !== undefined && v < q.min) return false;
    if (q.max !== undefined && v > q.max) return false;
  }
  return true;
}

export function matchesTags(doc: Doc, q: TagsQuery): boolean {
  const tags = new Set(doc.tags ?? []);
  if (q.allOf && !q.allOf.every((t) => tags.has(t))) return false;
  if (q.anyOf && q.anyOf.length > 0 && !q.anyOf.some((t) => tags.has(t))) return false;
  if (q.noneOf && q.noneOf.some((t) => tags.has(t))) return false;
  return true;
}
