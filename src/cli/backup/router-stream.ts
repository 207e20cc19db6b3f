import { StringDecoder } from 'node:string_decoder';
import { request } from 'undici';
import { bearer } from '../../core/http/auth.ts';
import { trustingAgent } from '../../core/http/tls.ts';
import type { RouterTarget } from '../router-client.ts';

// A shard's committed snapshot from the router (GET /v1/_backup/shards/{id}/snapshot),
// line by line as it streams: never held whole in memory.

/** An answer that was not the stream (401 wrong secret, 503 no primary, ...). */
export class StreamRefused extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'StreamRefused';
    this.status = status;
    this.code = code;
  }
}

export interface Line {
  text: string;
  /** Bytes of the line with its newline. */
  bytes: number;
}

export async function* shardSnapshot(target: RouterTarget, shard: number, signal?: AbortSignal): AsyncGenerator<Line> {
  const dispatcher = trustingAgent(target.ca);
  try {
    yield* stream(target, shard, dispatcher, signal);
  } finally {
    await dispatcher?.close();
  }
}

async function* stream(target: RouterTarget, shard: number, dispatcher: ReturnType<typeof trustingAgent>, signal?: AbortSignal): AsyncGenerator<Line> {
  const res = await request(`${target.url}/v1/_backup/shards/${shard}/snapshot`, {
    headers: { authorization: bearer(target.secret ?? '') },
    headersTimeout: 60_000, bodyTimeout: 120_000, ...(signal ? { signal } : {}), ...(dispatcher ? { dispatcher } : {}),
  });
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    let b: { error?: string; message?: string } = {};
    try { b = JSON.parse(text); } catch { /* not JSON */ }
    throw new StreamRefused(res.statusCode, b.error ?? String(res.statusCode), `${res.statusCode} ${b.error ?? ''}${b.message ? `: ${b.message}` : text.slice(0, 200)}`);
  }
  let rest = '';
  // A chunk may end inside a multi-byte character: the decoder holds it for the next one.
  const decoder = new StringDecoder('utf8');
  for await (const chunk of res.body) {
    const lines = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = lines.pop()!;
    for (const text of lines) if (text.length > 0) yield { text, bytes: Buffer.byteLength(text) + 1 };
  }
  if (rest.length > 0) yield { text: rest, bytes: Buffer.byteLength(rest) };
}
