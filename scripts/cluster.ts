// `npx tsx scripts/cluster.ts [--config F]`: the same as `tessera cluster`
// (src/cli/commands/cluster.ts holds the launcher, so the Docker image that
// ships without scripts/ still has it).
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['cluster', ...process.argv.slice(2)]);
