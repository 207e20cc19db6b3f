import { join, resolve } from 'node:path';
import type { Command } from '../main.ts';
import { EXIT } from '../main.ts';
import { launchCluster } from '../../launch/cluster.ts';
import { terminalLine } from '../log-filter.ts';
import { loadConfigForCli } from '../load-config-or-exit.ts';
import { PACKAGE_ROOT } from '../../launch/package-root.ts';

// `tessera cluster [--config F]` (DESIGN §2): every node and the router as
// children of this process. stdout carries exactly one line, `router: <url>`,
// once the router is ready, so scripts can wait for it; everything else
// (lifecycle lines, warnings, errors of the children) goes to stderr, and each
// child's full log to <dataDir>/logs/<id>.log.

export const command: Command = {
  summary: 'start every node and the router of a config (default config/local.json); Ctrl-C stops them',
  options: {
    config: { type: 'string' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const configPath = resolve(typeof values.config === 'string' ? values.config : join(PACKAGE_ROOT, 'config', 'local.json'));
    const config = loadConfigForCli(configPath, 'cluster');
    if (!config) return EXIT.usage;
    const logDir = join(config.dataDir, 'logs');
    const say = (line: string) => process.stderr.write(`${line}\n`);
    say(`tessera cluster: ${config.shards.length} shards, ${config.shards.reduce((n, s) => n + s.nodes.length, 0)} nodes; data in ${config.dataDir}, logs in ${logDir}`);

    // Signals during start-up must not leave children behind either.
    let signalled: NodeJS.Signals | null = null;
    let wake: () => void = () => {};
    const startup = new AbortController();
    const onSignal = (sig: NodeJS.Signals) => {
      signalled = sig;
      startup.abort();
      wake();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      let cluster;
      try {
        cluster = await launchCluster({
          configPath,
          config,
          logDir,
          logLevel: typeof values['log-level'] === 'string' ? values['log-level'] : undefined,
          signal: startup.signal,
          onLine: (name, line) => {
            const shown = terminalLine(name, line);
            if (shown !== null) say(shown);
          },
          onStray: (nodeId, pid, how) => say(`[${nodeId}] ${how === 'killed' ? 'killed' : 'stopped'} pid ${pid}: it ran from this cluster's data dir without being started by it (e.g. restarted by npm run failover-test)`),
          onExit: (name, how) => {
            say(`[${name}] exited (${how})`);
            if (name === 'router') wake();
          },
        });
      } catch (err) {
        if (signalled) {
          say(`tessera cluster: ${signalled} during start-up, stopped`);
          return EXIT.ok;
        }
        say(`tessera cluster: start-up failed: ${(err as Error).message}`);
        return EXIT.failed;
      }
      process.stdout.write(`router: ${cluster.routerUrl}\n`);
      await new Promise<void>((r) => {
        wake = r;
      });
      if (!signalled) {
        say(`tessera cluster: the router exited; stopping the nodes. Last router output:\n${cluster.router.tail(20)}`);
        await cluster.stop();
        return EXIT.failed;
      }
      say(`tessera cluster: ${signalled}, stopping`);
      await cluster.stop();
      return EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
