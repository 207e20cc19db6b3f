import { Ajv } from 'ajv';
import { jsonProblem, MAX_DOC_DEPTH } from './limits.ts';
import { bulkDoc } from './schema.ts';

// Checks of one document of `_bulk_docs`, run by router and node alike, so
// one bad document gets its own 400 result and the others are written. The
// schema is the one the OpenAPI document shows (src/core/doc/schema.ts).

const ajv = new Ajv({ allErrors: false, coerceTypes: false, strict: false });
const validate = ajv.compile(bulkDoc);

/** Why this bulk document is refused (`docs[i].field: why`), or null. */
export function bulkDocProblem(doc: unknown, at: string): string | null {
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    const path = `${at}${e?.instancePath?.replaceAll('/', '.') ?? ''}`;
    if (e?.keyword === 'additionalProperties') return `${path}: unknown field ${String(e.params.additionalProperty)}`;
    return `${path}: ${e?.message ?? 'invalid'}`;
  }
  const d = doc as { data?: unknown; deleted?: boolean };
  if (d.data === undefined && d.deleted !== true) return `${at}.data: required unless deleted`;
  return d.data === undefined ? null : jsonProblem(d.data, MAX_DOC_DEPTH, `${at}.data`);
}

/** Why a single document write's `data` is refused, or null. */
export function dataProblem(data: unknown): string | null {
  return jsonProblem(data, MAX_DOC_DEPTH, 'body.data');
}
