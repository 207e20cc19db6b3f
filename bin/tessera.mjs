#!/usr/bin/env node
// The `tessera` executable. TypeScript runs through tsx's loader, so the
// package ships its sources and needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
