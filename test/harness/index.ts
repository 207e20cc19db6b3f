// The multi-process test harness (STYLE §9, modelled on nats.js
// nst/src/launcher.ts). Cluster tests import from here.
export { freePorts } from '../../src/launch/free-ports.ts';
export { waitFor, type WaitOptions } from '../../src/launch/wait-for.ts';
export { ManagedProcess, startProcess, describeExit, TESSERA_BIN, LISTENING_PATTERN, type ProcessSpec, type ExitInfo } from '../../src/launch/managed-process.ts';
export { RingBuffer } from '../../src/launch/ring-buffer.ts';
export { writeTestConfig, TEST_REPLICATION, TEST_SECRET, type TestConfig, type TestConfigOptions } from './test-config.ts';
export { startCluster, nodeProcess, routerProcess, type TestCluster, type ClusterOptions, type ClusterInfo } from './cluster.ts';
export { TcpProxy } from '../../src/launch/tcp-proxy.ts';
export { killByPidFile } from './pid-file.ts';
