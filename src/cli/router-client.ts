import { request } from 'undici';
import type { Config } from '../core/config/index.ts';
import { bearer } from '../core/http/auth.ts';
import { configCa, trustingAgent } from '../core/http/tls.ts';

// How operator commands find the router and the secret (DESIGN §4): the URL
// from --router, else the config's router.url when --config is given, else
// http://127.0.0.1:8080; the secret from --secret, TESSERA_SECRET, or the
// config file.

export const DEFAULT_ROUTER_URL = 'http://127.0.0.1:8080';

export interface RouterTarget {
  url: string;
  secret: string | undefined;
  /** The cluster CA from --config's tls block (NODE_EXTRA_CA_CERTS works too). */
  ca?: Buffer;
}

/** Pure: picks URL and secret from flags, environment and an optional loaded config. */
export function resolveTarget(
  flags: { router?: string | undefined; secret?: string | undefined },
  config: Readonly<Config> | null,
  env: NodeJS.ProcessEnv = process.env,
): RouterTarget {
  const url = (flags.router ?? config?.router.url ?? DEFAULT_ROUTER_URL).replace(/\/+$/, '');
  const secret = flags.secret || env.TESSERA_SECRET || config?.cluster.secret || undefined;
  const ca = config ? configCa(config) : undefined;
  return { url, secret, ...(ca ? { ca } : {}) };
}

export interface RouterAnswer {
  status: number;
  body: unknown;
}

/** The router could not be reached or did not answer in time. */
export class RouterUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`cannot reach the router at ${url}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'RouterUnreachableError';
  }
}

/** One JSON request to the router; any HTTP status is returned, network failures throw. */
export async function routerRequest(
  target: RouterTarget,
  opts: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown; auth?: boolean; timeoutMs?: number },
): Promise<RouterAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.auth && target.secret) headers.authorization = bearer(target.secret);
  let payload: string | undefined;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const dispatcher = trustingAgent(target.ca);
  try {
    const res = await request(`${target.url}${opts.path}`, {
      method: opts.method ?? 'GET',
      headers,
      body: payload,
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // A non-JSON answer (a proxy's error page) is shown as text.
    }
    return { status: res.statusCode, body };
  } catch (err) {
    throw new RouterUnreachableError(target.url, err);
  } finally {
    await dispatcher?.close();
  }
}

/** `409 conflict: message` from an error answer, for CLI messages. */
export function describeAnswer(answer: RouterAnswer): string {
  const b = answer.body as { error?: unknown; message?: unknown } | null;
  if (b && typeof b === 'object' && typeof b.error === 'string') {
    return `${answer.status} ${b.error}${typeof b.message === 'string' ? `: ${b.message}` : ''}`;
  }
  return `${answer.status} ${typeof answer.body === 'string' ? answer.body.slice(0, 200) : JSON.stringify(answer.body)}`;
}
