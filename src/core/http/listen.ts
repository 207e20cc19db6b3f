/**
 * Where a process binds: the host and port of its URL in the config, the
 * host overridden by --host / TESSERA_HOST (compose binds 0.0.0.0).
 */
export function bindAddress(url: string, hostOverride?: string): { host: string; port: number } {
  const u = new URL(url);
  return {
    host: hostOverride ?? u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
  };
}
