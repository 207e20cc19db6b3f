import { stringify } from 'yaml';
import type { RawConfig } from '../core/config/template.ts';

// `tessera k8s-config`: the Kubernetes manifests of a cluster and the Tessera
// config whose node URLs are those manifests' DNS names, from one pure
// function (tested in test/unit/k8s-manifests.test.ts, which also checks that
// deploy/kubernetes/ is exactly its output for 3 shards). README "Kubernetes"
// says what each knob is for.

export interface K8sOptions {
  shards: number;
  namespace: string;
  image: string;
  /** The cluster's DNS domain (`cluster.local` unless the cluster was set up otherwise). */
  domain: string;
  nodesPerShard: number;
  /** Size of each node's volume (volumeClaimTemplates). */
  storage: string;
  /** Router Deployment replicas. */
  routers: number;
  /** Client API users (config `auth.users`); none: the client API is open inside the cluster. */
  users: ReadonlyArray<{ name: string; role: 'read' | 'readwrite' | 'admin'; tokenSha256: string }>;
}

export const K8S_DEFAULTS: Omit<K8sOptions, 'shards'> = {
  namespace: 'tessera', image: 'tessera:0.1.0', domain: 'cluster.local', nodesPerShard: 3, storage: '10Gi', routers: 1, users: [],
};

/** Where things are inside the image and the pods (the Dockerfile: WORKDIR /app, USER node = uid 1000, data in /data). */
export const K8S_PATHS = { configDir: '/etc/tessera', configFile: '/etc/tessera/config.json', dataDir: '/data', nodePort: 7000, routerPort: 8080, uid: 1000 } as const;
export const SECRET_NAME = 'tessera-secret';
export const SECRET_KEY = 'secret';
export const ROUTER_NAME = 'tessera-router';
export const CONFIG_MAP = 'tessera-config';
/**
 * SIGTERM: a router ends in-flight requests within writeTimeoutMs + 1 s and
 * answers long polls at once; a node finishes its requests and closes SQLite.
 * 30 s leaves ample room before the kubelet's SIGKILL.
 */
export const GRACE_SECONDS = 30;

export const shardName = (s: number) => `shard-${s}`;
/** A StatefulSet's pod `<name>-<ordinal>` is the node id (so `--node $(POD_NAME)`), reached at `<pod>.<service>.<ns>.svc.<domain>`. */
export const nodeId = (s: number, n: number) => `${shardName(s)}-${n}`;
export const nodeHost = (o: K8sOptions, s: number, n: number) => `${nodeId(s, n)}.${shardName(s)}.${o.namespace}.svc.${o.domain}`;

/** The Tessera config of the cluster (the secret comes from TESSERA_SECRET, set from the Secret in every pod). */
export function k8sConfig(o: K8sOptions): RawConfig & { auth?: { users: K8sOptions['users'] } } {
  return {
    cluster: { name: o.namespace, secret: 'set-from-the-tessera-secret-Secret-via-TESSERA_SECRET' },
    // Token hashes are not secrets (SHA-256 of 256-bit random tokens): they may live in the ConfigMap.
    ...(o.users.length > 0 ? { auth: { users: o.users.map((u) => ({ ...u })) } } : {}),
    router: { url: `http://${ROUTER_NAME}.${o.namespace}.svc.${o.domain}:${K8S_PATHS.routerPort}` },
    dataDir: K8S_PATHS.dataDir,
    replication: {},
    limits: {},
    shards: Array.from({ length: o.shards }, (_, s) => ({
      id: s,
      nodes: Array.from({ length: o.nodesPerShard }, (_, n) => ({ id: nodeId(s, n), url: `http://${nodeHost(o, s, n)}:${K8S_PATHS.nodePort}` })),
    })),
  };
}

type Obj = Record<string, unknown>;

const labels = (component: string, extra: Record<string, string> = {}) => ({ 'app.kubernetes.io/name': 'tessera', 'app.kubernetes.io/component': component, ...extra });

function env(): Obj[] {
  return [{ name: 'TESSERA_SECRET', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: SECRET_KEY } } }];
}

function probes(port: string): Obj {
  return {
    // Ready = caught up (a node) / every shard writable (the router): Services route only to ready pods.
    readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 2, failureThreshold: 3 },
    // Alive = the process answers; generous, so a long snapshot install is never mistaken for a hang.
    livenessProbe: { httpGet: { path: '/healthz', port }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
  };
}

const podSecurity = { runAsNonRoot: true, runAsUser: K8S_PATHS.uid, runAsGroup: K8S_PATHS.uid, fsGroup: K8S_PATHS.uid };
const configVolume = { name: 'config', configMap: { name: CONFIG_MAP } };
const configMount = { name: 'config', mountPath: K8S_PATHS.configDir, readOnly: true };

export function shardObjects(o: K8sOptions, s: number): Obj[] {
  const name = shardName(s);
  const sel = labels('shard', { 'tessera.io/shard': String(s) });
  const service = {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: o.namespace, labels: sel },
    spec: {
      clusterIP: 'None',
      // Nodes must resolve while not ready: a catching-up replica is reached by the router exactly then.
      publishNotReadyAddresses: true,
      selector: sel,
      ports: [{ name: 'http', port: K8S_PATHS.nodePort, targetPort: 'http' }],
    },
  };
  const statefulSet = {
    apiVersion: 'apps/v1', kind: 'StatefulSet',
    metadata: { name, namespace: o.namespace, labels: sel },
    spec: {
      serviceName: name,
      replicas: o.nodesPerShard,
      // Nodes start together: the first is primary at term 1, the others wait for it as replicas; ordered start-up buys nothing.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: sel },
      template: {
        metadata: { labels: sel },
        spec: {
          terminationGracePeriodSeconds: GRACE_SECONDS,
          securityContext: podSecurity,
          affinity: {
            // Two copies of a shard never share a machine: one machine lost costs each shard at most one copy.
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: sel }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
          containers: [{
            name: 'node',
            image: o.image,
            imagePullPolicy: 'IfNotPresent',
            args: ['shard', '--config', K8S_PATHS.configFile, '--node', '$(POD_NAME)', '--host', '0.0.0.0'],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, ...env()],
            ports: [{ name: 'http', containerPort: K8S_PATHS.nodePort }],
            ...probes('http'),
            volumeMounts: [{ name: 'data', mountPath: K8S_PATHS.dataDir }, configMount],
          }],
          volumes: [configVolume],
        },
      },
      volumeClaimTemplates: [{
        metadata: { name: 'data', labels: sel },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.storage } } },
      }],
    },
  };
  const pdb = {
    apiVersion: 'policy/v1', kind: 'PodDisruptionBudget',
    metadata: { name, namespace: o.namespace, labels: sel },
    // A drain takes one copy of a shard at a time: the other two keep the write quorum.
    spec: { maxUnavailable: 1, selector: { matchLabels: sel } },
  };
  return [service, statefulSet, pdb];
}

export function routerObjects(o: K8sOptions): Obj[] {
  const sel = labels('router');
  return [
    {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: ROUTER_NAME, namespace: o.namespace, labels: sel },
      spec: {
        replicas: o.routers,
        selector: { matchLabels: sel },
        template: {
          metadata: { labels: sel },
          spec: {
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: podSecurity,
            containers: [{
              name: 'router',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['router', '--config', K8S_PATHS.configFile, '--host', '0.0.0.0'],
              env: env(),
              ports: [{ name: 'http', containerPort: K8S_PATHS.routerPort }],
              ...probes('http'),
              volumeMounts: [configMount],
            }],
            volumes: [configVolume],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: ROUTER_NAME, namespace: o.namespace, labels: sel },
      spec: {
        type: 'ClusterIP',
        // The router's /readyz is 503 while any shard lacks a primary; routers still answer every other
        // shard (and 503 for that one). Readiness gates rollouts; it must not empty this Service.
        publishNotReadyAddresses: true,
        selector: sel,
        ports: [{ name: 'http', port: K8S_PATHS.routerPort, targetPort: 'http' }],
      },
    },
  ];
}

export function configMap(o: K8sOptions): Obj {
  return {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: CONFIG_MAP, namespace: o.namespace, labels: labels('config') },
    data: { 'config.json': `${JSON.stringify(k8sConfig(o), null, 2)}\n` },
  };
}

/** The command line that produces these files (written at the top of each). */
export function commandLine(o: K8sOptions, out: string): string {
  const parts = [`tessera k8s-config --shards ${o.shards}`];
  for (const [k, flag] of [['namespace', 'namespace'], ['image', 'image'], ['domain', 'domain'], ['storage', 'storage'], ['routers', 'routers']] as const) {
    if (o[k] !== K8S_DEFAULTS[k]) parts.push(`--${flag} ${o[k]}`);
  }
  for (const u of o.users) parts.push(`--user ${u.name}:${u.role}:${u.tokenSha256}`);
  return `${parts.join(' ')} --out ${out}`;
}

/** Every file of the manifest folder: name → text. */
export function k8sFiles(o: K8sOptions, out = 'deploy/kubernetes'): Record<string, string> {
  const header = `# Generated by \`${commandLine(o, out)}\`; edit src/cli/k8s-manifests.ts and regenerate.\n`;
  const yaml = (objs: Obj[]) => header + objs.map((x) => stringify(x, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  const files: Record<string, string> = {
    'namespace.yaml': yaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } }]),
    'config.yaml': yaml([configMap(o)]),
    'router.yaml': yaml(routerObjects(o)),
  };
  for (let s = 0; s < o.shards; s++) files[`${shardName(s)}.yaml`] = yaml(shardObjects(o, s));
  files['kustomization.yaml'] = header + stringify({
    apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization',
    // The Secret is not here on purpose: create it yourself (README "Kubernetes"), never commit it.
    resources: Object.keys(files),
  });
  return files;
}
