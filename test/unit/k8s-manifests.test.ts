import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/core/config/index.ts';
import { commandLine, K8S_DEFAULTS, k8sConfig, k8sFiles, SECRET_KEY, SECRET_NAME } from '../../src/cli/k8s-manifests.ts';
import { execFileSync } from 'node:child_process';
import { TESSERA_BIN } from '../../src/launch/managed-process.ts';
import { PACKAGE_ROOT } from '../../src/launch/package-root.ts';

// deploy/kubernetes/ with no cluster to apply it to: every object is
// validated against the Kubernetes API schemas (kubernetes-models, offline),
// the folder must be exactly the generator's output, the Tessera config must
// name the pods' and Services' DNS names and ports, and the containers must
// run the image's entrypoint with a command the CLI accepts.

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

const DIR = join(PACKAGE_ROOT, 'deploy', 'kubernetes');
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/ConfigMap': ConfigMap, 'v1/Service': Service,
  'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const objects: Obj[] = files.filter((f) => f !== 'kustomization.yaml').flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Obj));
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const statefulSets = objects.filter((o) => o.kind === 'StatefulSet');

/** Validates with the model for its apiVersion/kind; the error message, or null when valid. */
function problems(o: Obj): string | null {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!Model) return `no schema for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('deploy/kubernetes', () => {
  it('is exactly what `tessera k8s-config --shards 3 --out deploy/kubernetes` writes (no hand edits drift)', () => {
    const expected = k8sFiles({ ...K8S_DEFAULTS, shards: 3 });
    expect(files.sort()).toEqual(Object.keys(expected).sort());
    for (const [name, text] of Object.entries(expected)) expect(readFileSync(join(DIR, name), 'utf8'), name).toBe(text);
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    expect(kustomization.resources.sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('every object is valid against the Kubernetes API schemas', () => {
    expect(objects.length).toBe(1 + 1 + 2 + 3 * 3);
    for (const o of objects) expect(problems(o), `${o.kind} ${o.metadata.name}`).toBeNull();
  });

  it('the validator flags planted faults (a wrong type, a missing required field, a bad enum)', () => {
    const sts = structuredClone(find('StatefulSet', 'shard-0')!);
    sts.spec.template.spec.containers[0].ports[0].containerPort = '7000';
    expect(problems(sts)).toMatch(/containerPort must be integer/);
    const noSelector = structuredClone(find('StatefulSet', 'shard-0')!);
    delete noSelector.spec.selector;
    expect(problems(noSelector)).toMatch(/selector/);
    const svc = structuredClone(find('Service', 'shard-0')!);
    svc.spec.ports[0].port = 'http';
    expect(problems(svc)).toMatch(/port/);
    const pdb = structuredClone(find('PodDisruptionBudget', 'shard-0')!);
    pdb.spec.maxUnavailable = { one: 1 };
    expect(problems(pdb)).not.toBeNull();
  });

  it.each([0, 1, 2])('shard %i: a 3-replica StatefulSet (Parallel, a volume per pod, one pod per host), a headless Service that publishes not-ready pods, a PDB of maxUnavailable 1', (s) => {
    const name = `shard-${s}`;
    const sts = find('StatefulSet', name)!;
    const svc = find('Service', name)!;
    const pdb = find('PodDisruptionBudget', name)!;
    const podLabels = sts.spec.template.metadata.labels as Record<string, string>;
    expect(sts.spec).toMatchObject({ replicas: 3, podManagementPolicy: 'Parallel', serviceName: name, selector: { matchLabels: podLabels } });
    expect(sts.spec.volumeClaimTemplates).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ name: 'data' }), spec: expect.objectContaining({ accessModes: ['ReadWriteOnce'] }) })]);
    const anti = sts.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(anti).toEqual([{ labelSelector: { matchLabels: podLabels }, topologyKey: 'kubernetes.io/hostname' }]);
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: podLabels });
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: podLabels } });
    // Each shard's selectors pick its own pods only.
    expect(podLabels['tessera.io/shard']).toBe(String(s));
  });

  it('the router is a Deployment behind a ClusterIP Service; probes, the Secret and the grace period are set on every pod', () => {
    const dep = find('Deployment', 'tessera-router')!;
    const svc = find('Service', 'tessera-router')!;
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', selector: dep.spec.template.metadata.labels });
    const config = parseConfig(JSON.parse(find('ConfigMap', 'tessera-config')!.data!['config.json']!), { baseDir: '/', env: {} });
    for (const pod of [dep, ...statefulSets].map((o) => o.spec.template.spec)) {
      const c = pod.containers[0];
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.env).toContainEqual({ name: 'TESSERA_SECRET', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: SECRET_KEY } } });
      // SIGTERM lets a router end its requests (writeTimeoutMs + 1 s) well before the kubelet's SIGKILL.
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(3 * (config.replication.writeTimeoutMs + 1000));
    }
  });

  it('the config names exactly the StatefulSets\' pods at their DNS names and ports, and the router at its Service', () => {
    const cm = find('ConfigMap', 'tessera-config')!;
    const config = parseConfig(JSON.parse(cm.data!['config.json']!), { baseDir: '/', env: {} });
    expect(config.shards).toHaveLength(statefulSets.length);
    for (const shard of config.shards) {
      const sts = find('StatefulSet', `shard-${shard.id}`)!;
      const svc = find('Service', sts.spec.serviceName)!;
      const ns = sts.metadata.namespace!;
      expect(svc.metadata.namespace).toBe(ns);
      const container = sts.spec.template.spec.containers[0];
      const containerPort = container.ports.find((p: { name: string }) => p.name === svc.spec.ports[0].targetPort).containerPort;
      expect(svc.spec.ports[0].port).toBe(containerPort);
      const pods = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`);
      expect(shard.nodes.map((n) => n.id)).toEqual(pods);
      for (const n of shard.nodes) {
        const url = new URL(n.url);
        expect(url.hostname).toBe(`${n.id}.${svc.metadata.name}.${ns}.svc.cluster.local`);
        expect(Number(url.port)).toBe(containerPort);
      }
      // The node's data dir (<dataDir>/<id>) is on its claimed volume; the config file is the ConfigMap's key.
      expect(container.volumeMounts).toContainEqual({ name: 'data', mountPath: config.dataDir });
      expect(container.args).toEqual(['shard', '--config', expect.any(String), '--node', '$(POD_NAME)', '--host', '0.0.0.0']);
      expect(container.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    }
    const dep = find('Deployment', 'tessera-router')!;
    const rsvc = find('Service', 'tessera-router')!;
    const rurl = new URL(config.router.url);
    expect(rurl.hostname).toBe(`${rsvc.metadata.name}.${rsvc.metadata.namespace}.svc.cluster.local`);
    expect(Number(rurl.port)).toBe(rsvc.spec.ports[0].port);
    expect(dep.spec.template.spec.containers[0].ports[0].containerPort).toBe(Number(rurl.port));
    for (const o of [dep, ...statefulSets]) {
      const pod = o.spec.template.spec;
      const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'config');
      expect(pod.volumes).toContainEqual({ name: 'config', configMap: { name: cm.metadata.name } });
      const args: string[] = pod.containers[0].args;
      expect(args[args.indexOf('--config') + 1]).toBe(`${mount.mountPath}/config.json`);
    }
  });

  it('the containers run the Dockerfile\'s ENTRYPOINT with arguments the CLI accepts, as the image\'s user, on its exposed ports', async () => {
    const dockerfile = readFileSync(join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint).toEqual(['node', 'bin/tessera.mjs']);
    const exposed = /^EXPOSE (.*)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number);
    expect(/^USER node$/m.test(dockerfile)).toBe(true); // uid 1000 in the node images: runAsUser/fsGroup below
    const { COMMANDS } = await import('../../src/cli/main.ts');
    for (const o of [find('Deployment', 'tessera-router')!, ...statefulSets]) {
      const pod = o.spec.template.spec;
      const c = pod.containers[0];
      expect(c.command).toBeUndefined(); // so the image's ENTRYPOINT runs, with these args
      const [name, ...rest] = c.args as string[];
      const load = COMMANDS[name!];
      expect(load, name).toBeDefined();
      const cmd = await load!();
      expect(() => parseArgs({ args: rest, options: cmd.options, strict: true, allowPositionals: false })).not.toThrow();
      expect(exposed).toContain(c.ports[0].containerPort);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    }
  });

  it('--user NAME:ROLE:SHA256 turns client authentication on in the config; a malformed one is a usage error', () => {
    const user = { name: 'app', role: 'readwrite' as const, tokenSha256: 'b'.repeat(64) };
    const o = { ...K8S_DEFAULTS, shards: 1, users: [user] };
    const config = parseConfig(k8sConfig(o), { baseDir: '/', env: {} });
    expect(config.auth?.users).toEqual([user]);
    expect(commandLine(o, 'out')).toContain(`--user app:readwrite:${'b'.repeat(64)}`);
    expect(parseConfig(k8sConfig({ ...K8S_DEFAULTS, shards: 1 }), { baseDir: '/', env: {} }).auth).toBeUndefined();
    const out = execFileSync(process.execPath, [TESSERA_BIN, 'k8s-config', '--shards', '2', '--user', `ops:admin:${'c'.repeat(64)}`], { encoding: 'utf8' });
    expect(JSON.parse(out).auth.users).toEqual([{ name: 'ops', role: 'admin', tokenSha256: 'c'.repeat(64) }]);
    let err = '';
    try {
      execFileSync(process.execPath, [TESSERA_BIN, 'k8s-config', '--shards', '2', '--user', 'ops:root:abc'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = `${(e as { status: number }).status} ${(e as { stderr: string }).stderr}`;
    }
    expect(err).toMatch(/^2 tessera k8s-config: --user ops:root:abc: expected NAME:ROLE:SHA256/);
  });
});
