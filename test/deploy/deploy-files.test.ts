/**
 * Offline checks of the deployment files, fast enough for every `npm test` (no image is built and
 * no cluster is reached):
 *
 * - every deploy/images/*.Dockerfile passes dockerfile-utils' linter, and there is one per service
 *   and for NATS (`<kind>.Dockerfile`, `nats.Dockerfile`) whose final stage runs as a user other
 *   than root and has a HEALTHCHECK;
 * - deploy/compose/compose.yaml validates against the Compose Specification's JSON schema (the copy
 *   dclint ships), and every deploy/k8s/*.yaml document against the Kubernetes schema of its
 *   apiVersion and kind (kubernetes-models' validators);
 * - every variable a service reads (its spec merged over the base spec, as scripts/config-docs.ts
 *   derives it) is set in the compose file under that service's `environment`, in that service's
 *   Kubernetes manifests (its container's env or the ConfigMaps it takes with envFrom), and in the
 *   table of docs/operations.md that config-docs generates.
 *
 * Each validator is also shown a broken document, so a check that could never fail is caught.
 */
import { SERVICE_KINDS, type ServiceKind } from '@strata/protocol';
import { Ajv, type ValidateFunction } from 'ajv';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parseDocument } from 'yaml';
import { OPERATIONS_END_MARKER, OPERATIONS_START_MARKER, operationsDoc, serviceVariables } from '../../scripts/config-docs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGES = join(ROOT, 'deploy', 'images');
const COMPOSE = join(ROOT, 'deploy', 'compose', 'compose.yaml');
const K8S = join(ROOT, 'deploy', 'k8s');
const NATS_START = join(ROOT, 'deploy', 'nats', 'start.sh');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: Json | undefined): JsonObject {
  return isObject(v) ? v : {};
}
function arr(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}
function text(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The same NATS user password key the server reads: NATS_GEO_ROUTER_PASSWORD for geo-router. */
function natsPasswordKey(kind: ServiceKind): string {
  return `NATS_${kind.toUpperCase().replaceAll('-', '_')}_PASSWORD`;
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

/** Every check the linter has, at least a warning: a warning is a finding too, and fails the test. */
const LINT_SETTINGS: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.WARNING,
  directiveCasing: ValidationSeverity.WARNING,
  emptyContinuationLine: ValidationSeverity.WARNING,
  instructionCasing: ValidationSeverity.WARNING,
  instructionCmdMultiple: ValidationSeverity.WARNING,
  instructionEntrypointMultiple: ValidationSeverity.WARNING,
  instructionHealthcheckMultiple: ValidationSeverity.WARNING,
  instructionJSONInSingleQuotes: ValidationSeverity.WARNING,
  instructionWorkdirRelative: ValidationSeverity.WARNING,
};

/** The linter's findings, as `line N: problem`. */
function lintProblems(content: string): string[] {
  return lintDockerfile(content, LINT_SETTINGS).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
}

/** What a runtime image promises beyond the linter: it runs as a user other than root, and has a health check. */
function runtimeProblems(content: string): string[] {
  const instructions = DockerfileParser.parse(content).getInstructions();
  const lastFrom = instructions.map((i) => i.getKeyword()).lastIndexOf('FROM');
  if (lastFrom < 0) return ['no FROM'];
  // The final stage is the image that runs; what earlier stages do is build detail.
  const final = instructions.slice(lastFrom);
  const problems: string[] = [];
  const users = final.filter((i) => i.getKeyword() === 'USER').map((i) => (i.getArgumentsContent() ?? '').trim());
  const user = users.at(-1)?.split(':')[0];
  if (user === undefined) problems.push('the final stage sets no USER: it would run as root');
  else if (user === 'root' || user === '0') problems.push(`the final stage runs as ${user}`);
  const health = final.filter((i) => i.getKeyword() === 'HEALTHCHECK').map((i) => (i.getArgumentsContent() ?? '').trim());
  if (health.length === 0 || /^NONE$/i.test(health.at(-1) ?? '')) problems.push('the final stage has no HEALTHCHECK');
  return problems;
}

function dockerfileProblems(content: string): string[] {
  return [...lintProblems(content), ...runtimeProblems(content)];
}

/** The images that run (one per service, and NATS); other Dockerfiles (shared build stages) are only linted. */
const RUNTIME_IMAGES = [...SERVICE_KINDS, 'nats'];

const GOOD_DOCKERFILE = `# syntax=docker/dockerfile:1
ARG BASE=debian:bookworm-slim
FROM \${BASE} AS build
WORKDIR /src
COPY . .
RUN echo build > /src/out

FROM \${BASE}
COPY --from=build /src/out /app/out
USER 10001
HEALTHCHECK --interval=10s CMD ["node", "-e", "fetch('http://127.0.0.1:7880/healthz').then((r) => process.exit(r.ok ? 0 : 1))"]
CMD ["node", "/app/main.js"]
`;

describe('Dockerfiles (deploy/images/*.Dockerfile)', () => {
  it('the check accepts a sound Dockerfile and refuses broken ones', () => {
    assert.deepEqual(dockerfileProblems(GOOD_DOCKERFILE), []);
    const unknown = dockerfileProblems(GOOD_DOCKERFILE.replace('RUN echo', 'RUNN echo'));
    assert.ok(
      unknown.some((p) => p.includes('Unknown instruction: RUNN')),
      unknown.join('\n'),
    );
    const copy = dockerfileProblems(GOOD_DOCKERFILE.replace('COPY . .', 'COPY .'));
    assert.ok(
      copy.some((p) => p.includes('COPY requires at least two arguments')),
      copy.join('\n'),
    );
    assert.ok(dockerfileProblems(GOOD_DOCKERFILE.replace('USER 10001', 'USER root')).includes('the final stage runs as root'));
    assert.ok(dockerfileProblems(GOOD_DOCKERFILE.replace('USER 10001\n', '')).includes('the final stage sets no USER: it would run as root'));
    assert.ok(dockerfileProblems(GOOD_DOCKERFILE.replace(/^HEALTHCHECK.*$/m, 'HEALTHCHECK NONE')).includes('the final stage has no HEALTHCHECK'));
  });

  it('every one passes the linter', () => {
    const files = existsSync(IMAGES) ? readdirSync(IMAGES).filter((f) => f.endsWith('.Dockerfile')) : [];
    assert.ok(files.length > 0, `no *.Dockerfile in ${IMAGES}`);
    const problems = files.flatMap((f) => lintProblems(readFileSync(join(IMAGES, f), 'utf8')).map((p) => `${f} ${p}`));
    assert.deepEqual(problems, []);
  });

  it('every service and NATS has one, whose image runs as non-root and has a HEALTHCHECK', () => {
    const problems = RUNTIME_IMAGES.flatMap((name) => {
      const file = join(IMAGES, `${name}.Dockerfile`);
      if (!existsSync(file)) return [`no ${name}.Dockerfile`];
      return runtimeProblems(readFileSync(file, 'utf8')).map((p) => `${name}.Dockerfile ${p}`);
    });
    assert.deepEqual(problems, []);
  });
});

// ---------------------------------------------------------------------------------------------
// YAML

/** Every document of a YAML file; merge keys (`<<: *anchor`) resolved, as compose and kubectl do. */
function yamlDocuments(path: string): Json[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  if (!Array.isArray(docs)) return [];
  return docs.flatMap((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value = d.toJS({ maxAliasCount: 1000 }) as Json;
    return value === null ? [] : [value];
  });
}

// ---------------------------------------------------------------------------------------------
// Compose

function composeValidator(): ValidateFunction {
  // dclint's copy of the Compose Specification schema: the current one (top-level `name`, `include`,
  // `models`...), read from its package since the package does not export the file.
  const require = createRequire(import.meta.url);
  const schemaPath = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as JsonObject;
  // Its `$schema` names draft-07 by an address Ajv does not know it by; Ajv's default is draft-07.
  delete schema['$schema'];
  // strict: false because the schema carries the compose project's own annotations (`id`).
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}

function composeProblems(validate: ValidateFunction, doc: Json): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}

/** The variable names a compose service sets in `environment`, a map or a list of `NAME=value` / `NAME`. */
function composeEnvironment(service: JsonObject): string[] {
  const env = service['environment'];
  if (Array.isArray(env)) return env.flatMap((e) => (typeof e === 'string' ? [e.split('=')[0] ?? ''] : []));
  return Object.keys(obj(env));
}

/** `kind: VAR` for every variable a service reads that its compose service does not set. */
function composeMissing(doc: Json | undefined, vars: Record<ServiceKind, string[]>): string[] {
  const services = obj(obj(doc)['services']);
  return SERVICE_KINDS.flatMap((kind) => {
    const service = services[kind];
    if (!isObject(service)) return [`no service named ${kind}`];
    const set = new Set(composeEnvironment(service));
    return vars[kind].filter((v) => !set.has(v)).map((v) => `${kind}: ${v}`);
  });
}

const GOOD_COMPOSE = `
name: strata
services:
  nats:
    image: strata/nats:0.1.0
    volumes: [nats-data:/data]
  signaling:
    image: strata/signaling:0.1.0
    depends_on:
      nats: { condition: service_healthy }
    environment:
      NATS_URL: nats://nats:4222
    ports: ['7880:7880']
volumes:
  nats-data: {}
`;

describe('compose file (deploy/compose/compose.yaml)', () => {
  let validate: ValidateFunction;
  let vars: Record<ServiceKind, string[]>;
  before(async () => {
    validate = composeValidator();
    vars = await serviceVariables();
  });

  it('the schema accepts a sound file and refuses broken ones', () => {
    const good = parseDocument(GOOD_COMPOSE).toJS() as Json;
    assert.deepEqual(composeProblems(validate, good), []);
    const unknownKey = parseDocument(GOOD_COMPOSE.replace('    ports:', '    portz:')).toJS() as Json;
    assert.ok(composeProblems(validate, unknownKey).some((p) => p.includes('portz')));
    const badCondition = parseDocument(GOOD_COMPOSE.replace('service_healthy', 'service_happy')).toJS() as Json;
    assert.notDeepEqual(composeProblems(validate, badCondition), []);
    // The environment check on the same file: signaling sets NATS_URL only, the others are absent.
    const missing = composeMissing(good, vars);
    assert.ok(missing.includes('signaling: NATS_USER') && !missing.includes('signaling: NATS_URL'), missing.join('\n'));
    assert.ok(missing.includes('no service named media'));
    const listForm = parseDocument(
      GOOD_COMPOSE.replace('      NATS_URL: nats://nats:4222', '      - NATS_URL=nats://nats:4222\n      - NATS_USER'),
    ).toJS() as Json;
    assert.ok(!composeMissing(listForm, vars).includes('signaling: NATS_USER'));
  });

  it('validates against the Compose Specification schema', () => {
    assert.ok(existsSync(COMPOSE), `${COMPOSE} does not exist`);
    const docs = yamlDocuments(COMPOSE);
    assert.equal(docs.length, 1, 'one YAML document');
    assert.deepEqual(composeProblems(validate, docs[0] ?? null), []);
  });

  it("sets every variable each service reads under that service's environment", () => {
    assert.ok(existsSync(COMPOSE), `${COMPOSE} does not exist`);
    const [doc] = yamlDocuments(COMPOSE);
    assert.ok(isObject(obj(obj(doc)['services'])['nats']), 'a service named nats');
    const missing = composeMissing(doc, vars);
    assert.deepEqual(missing, [], "variables missing from the services' environment");
  });
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface Manifest {
  file: string;
  doc: JsonObject;
}

interface ModelClass {
  new (data: JsonObject): { validate(): void };
}
function isModelClass(v: unknown): v is ModelClass {
  return typeof v === 'function' && typeof (v.prototype as { validate?: unknown } | undefined)?.validate === 'function';
}

const KUSTOMIZATION = 'kustomization.yaml';
/** Applied by hand before the rest (README.md), so kept out of the kustomization. */
const NOT_IN_KUSTOMIZATION = ['namespace.yaml', 'secret.example.yaml'];
const WORKLOAD_KINDS = ['Deployment', 'DaemonSet', 'StatefulSet'];

function k8sFiles(): string[] {
  return readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

function loadManifests(): Manifest[] {
  return k8sFiles()
    .filter((f) => f !== KUSTOMIZATION)
    .flatMap((file) => yamlDocuments(join(K8S, file)).map((d) => ({ file, doc: obj(d) })));
}

/** Problems kubernetes-models' validator for the document's apiVersion and kind finds in it. */
async function manifestProblems(doc: JsonObject): Promise<string[]> {
  const apiVersion = text(doc['apiVersion']);
  const kind = text(doc['kind']);
  if (!apiVersion || !kind) return ['no apiVersion or kind'];
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return [`${apiVersion}: not an apiVersion`];
  // kubernetes-models has one module per group and version: kubernetes-models/v1, .../apps/v1, ...
  const mod = (await import(`kubernetes-models/${apiVersion}`).catch(() => ({}))) as Record<string, unknown>;
  const model = mod[kind];
  if (!isModelClass(model)) return [`${apiVersion} ${kind}: no schema for it in kubernetes-models`];
  try {
    new model(doc).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

function named(manifests: Manifest[], kind: string, name: string): JsonObject | undefined {
  return manifests.find((m) => m.doc['kind'] === kind && obj(m.doc['metadata'])['name'] === name)?.doc;
}

function podSpec(workload: JsonObject): JsonObject {
  return obj(obj(obj(workload['spec'])['template'])['spec']);
}

function container(workload: JsonObject, name: string): JsonObject | undefined {
  return arr(podSpec(workload)['containers'])
    .filter(isObject)
    .find((c) => c['name'] === name);
}

/** A container's variables: its env entries, and the keys of the ConfigMaps it takes whole. */
function containerVariables(manifests: Manifest[], c: JsonObject): { env: Map<string, JsonObject>; fromConfigMaps: Map<string, string> } {
  const env = new Map<string, JsonObject>();
  for (const e of arr(c['env']).filter(isObject)) env.set(text(e['name']) ?? '', e);
  const fromConfigMaps = new Map<string, string>();
  for (const source of arr(c['envFrom']).filter(isObject)) {
    const ref = text(obj(source['configMapRef'])['name']);
    assert.ok(ref, 'envFrom takes ConfigMaps only (secrets come one by one through secretKeyRef)');
    const cm = named(manifests, 'ConfigMap', ref);
    assert.ok(cm, `ConfigMap ${ref} is in deploy/k8s`);
    for (const [k, v] of Object.entries(obj(cm['data']))) fromConfigMaps.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  return { env, fromConfigMaps };
}

describe('Kubernetes manifests (deploy/k8s/*.yaml)', () => {
  let manifests: Manifest[];
  let vars: Record<ServiceKind, string[]>;
  before(async () => {
    manifests = loadManifests();
    vars = await serviceVariables();
  });

  it('the validator accepts a sound manifest and refuses a broken copy', async () => {
    const deployment = named(manifests, 'Deployment', 'signaling');
    assert.ok(deployment, 'a Deployment named signaling');
    assert.deepEqual(await manifestProblems(deployment), []);
    const broken = structuredClone(deployment);
    obj(broken['spec'])['replicas'] = 'two';
    delete obj(broken['spec'])['selector'];
    const problems = await manifestProblems(broken);
    assert.ok(
      problems.some((p) => p.includes('replicas') && p.includes('integer')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('selector')),
      problems.join('\n'),
    );
    assert.deepEqual(await manifestProblems({ ...deployment, kind: 'Deploymnet' }), ['apps/v1 Deploymnet: no schema for it in kubernetes-models']);
  });

  it('every document validates against the schema of its apiVersion and kind', async () => {
    assert.ok(manifests.length > 0, `no manifests in ${K8S}`);
    const problems: string[] = [];
    for (const m of manifests) {
      const name = `${m.file}: ${String(m.doc['kind'])} ${String(obj(m.doc['metadata'])['name'])}`;
      for (const p of await manifestProblems(m.doc)) problems.push(`${name}: ${p}`);
    }
    assert.deepEqual(problems, []);
  });

  it('the kustomization lists every manifest but the namespace and the Secret example', () => {
    const [k] = yamlDocuments(join(K8S, KUSTOMIZATION));
    assert.equal(obj(k)['kind'], 'Kustomization');
    const resources = arr(obj(k)['resources']).map(String).sort();
    const expected = k8sFiles()
      .filter((f) => f !== KUSTOMIZATION && !NOT_IN_KUSTOMIZATION.includes(f))
      .sort();
    assert.deepEqual(resources, expected);
  });

  it('every service runs its image, non-root, with a /healthz probe on its HTTP_PORT', () => {
    const problems = SERVICE_KINDS.flatMap((kind): string[] => {
      const workload = manifests.find((m) => WORKLOAD_KINDS.includes(String(m.doc['kind'])) && obj(m.doc['metadata'])['name'] === kind)?.doc;
      if (!workload) return [`${kind}: no Deployment, DaemonSet or StatefulSet named ${kind}`];
      const c = container(workload, kind);
      if (!c) return [`${kind}: no container named ${kind}`];
      const out: string[] = [];
      if (c['image'] !== `strata/${kind}:0.1.0`) out.push(`${kind}: image ${String(c['image'])}`);
      const pod = obj(podSpec(workload)['securityContext']);
      if (pod['runAsNonRoot'] !== true || pod['runAsUser'] !== 10001) out.push(`${kind}: not runAsNonRoot as 10001`);
      const sc = obj(c['securityContext']);
      if (sc['readOnlyRootFilesystem'] !== true || sc['allowPrivilegeEscalation'] !== false) out.push(`${kind}: writable root or privilege escalation`);
      const resources = obj(c['resources']);
      if (!isObject(resources['requests']) || !isObject(resources['limits'])) out.push(`${kind}: no resource requests and limits`);
      const { env, fromConfigMaps } = containerVariables(manifests, c);
      const httpPort = Number(text(env.get('HTTP_PORT')?.['value']) ?? fromConfigMaps.get('HTTP_PORT'));
      const ports = new Map(
        arr(c['ports'])
          .filter(isObject)
          .map((p) => [text(p['name']) ?? '', p['containerPort']]),
      );
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const get = obj(obj(c[probe])['httpGet']);
        const port = typeof get['port'] === 'string' ? ports.get(get['port']) : get['port'];
        if (get['path'] !== '/healthz' || port !== httpPort) out.push(`${kind}: ${probe} is not GET /healthz on HTTP_PORT ${httpPort}`);
      }
      return out;
    });
    assert.deepEqual(problems, []);
  });

  it('every service sets every variable it reads, and none it does not', () => {
    const problems = SERVICE_KINDS.flatMap((kind): string[] => {
      const workload = manifests.find((m) => WORKLOAD_KINDS.includes(String(m.doc['kind'])) && obj(m.doc['metadata'])['name'] === kind)?.doc;
      const c = workload && container(workload, kind);
      if (!c) return [`${kind}: no workload with a container named ${kind}`];
      const { env, fromConfigMaps } = containerVariables(manifests, c);
      const reads = new Set(vars[kind]);
      const out: string[] = [];
      for (const v of vars[kind]) if (!env.has(v) && !fromConfigMaps.has(v)) out.push(`${kind}: ${v} is not set`);
      // A name the service does not read is a typo or a leftover: it would silently do nothing.
      for (const v of [...env.keys(), ...fromConfigMaps.keys()]) if (!reads.has(v)) out.push(`${kind}: sets ${v}, which it does not read`);
      for (const v of env.keys()) if (fromConfigMaps.has(v)) out.push(`${kind}: ${v} both in env and in its ConfigMap (env wins, the other is dead)`);
      // The NATS user and password the server knows this service by (deploy/nats/accounts.conf).
      const user = text(env.get('NATS_USER')?.['value']) ?? fromConfigMaps.get('NATS_USER');
      if (user !== kind) out.push(`${kind}: NATS_USER is ${String(user)}`);
      const password = obj(obj(env.get('NATS_PASSWORD')?.['valueFrom'])['secretKeyRef']);
      if (password['key'] !== natsPasswordKey(kind)) out.push(`${kind}: NATS_PASSWORD is not the Secret's ${natsPasswordKey(kind)}`);
      const host = text(env.get('HTTP_HOST')?.['value']) ?? fromConfigMaps.get('HTTP_HOST');
      if (host !== '0.0.0.0') out.push(`${kind}: HTTP_HOST is ${String(host)}, which probes cannot reach`);
      return out;
    });
    assert.deepEqual(problems, []);
  });

  it('the NATS StatefulSet sets every variable deploy/nats/start.sh requires', () => {
    const sts = named(manifests, 'StatefulSet', 'nats');
    assert.ok(sts, 'a StatefulSet named nats');
    assert.equal(obj(sts['spec'])['replicas'], 3);
    const c = container(sts, 'nats');
    assert.ok(c, 'a container named nats');
    assert.deepEqual(c['args'], ['-c', '/etc/nats/gateway.conf']);
    // start.sh's own list: its `vars="..."` and what gateway.conf adds.
    const script = readFileSync(NATS_START, 'utf8');
    const lists = [...script.matchAll(/vars="([^"]*)"/g)].map((m) => m[1] ?? '').join(' ');
    const required = [...new Set(lists.split(/\s+/).filter((w) => /^[A-Z_]+$/.test(w)))];
    assert.ok(required.includes('NATS_GATEWAYS') && required.includes('NATS_SERVER_NAME'), `parsed start.sh: ${required.join(' ')}`);
    const { env, fromConfigMaps } = containerVariables(manifests, c);
    assert.deepEqual(
      required.filter((v) => !env.has(v) && !fromConfigMaps.has(v)),
      [],
    );
    assert.deepEqual(obj(env.get('NATS_SERVER_NAME')?.['valueFrom'])['fieldRef'], { fieldPath: 'metadata.name' });
  });

  it('every secret comes from a key of the example Secret, which holds only placeholders', () => {
    const secret = named(manifests, 'Secret', 'strata-secrets');
    assert.ok(secret, 'secret.example.yaml holds the Secret strata-secrets');
    const data = obj(secret['stringData']);
    const notPlaceholders = Object.entries(data).filter(([, v]) => typeof v !== 'string' || !(v === '' || v.startsWith('REPLACE_ME')));
    assert.deepEqual(notPlaceholders, []);
    const refs = manifests.flatMap((m) =>
      WORKLOAD_KINDS.includes(String(m.doc['kind']))
        ? arr(podSpec(m.doc)['containers'])
            .filter(isObject)
            .flatMap((c) => arr(c['env']).filter(isObject))
            .flatMap((e) => {
              const ref = obj(obj(e['valueFrom'])['secretKeyRef']);
              return isObject(e['valueFrom']) && isObject(obj(e['valueFrom'])['secretKeyRef']) ? [`${String(ref['name'])}/${String(ref['key'])}`] : [];
            })
        : [],
    );
    assert.ok(refs.length > 0);
    assert.deepEqual(
      refs.filter((r) => !(r.startsWith('strata-secrets/') && r.slice('strata-secrets/'.length) in data)),
      [],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// docs/operations.md

describe('docs/operations.md', () => {
  it('lists every variable of every service in its generated table, up to date', async () => {
    const ops = await operationsDoc();
    assert.ok(ops.expected !== null, `${ops.path} has ${OPERATIONS_START_MARKER} … ${OPERATIONS_END_MARKER}`);
    assert.ok(ops.expected === ops.current, `${ops.path} is stale: node --conditions=strata-src --import tsx scripts/config-docs.ts --write`);
    const block = ops.current.slice(ops.current.indexOf(OPERATIONS_START_MARKER), ops.current.indexOf(OPERATIONS_END_MARKER));
    const rows = block.split('\n').filter((l) => l.startsWith('| `'));
    const vars = await serviceVariables();
    const missing = SERVICE_KINDS.flatMap((kind, column) =>
      vars[kind]
        .filter((v) => {
          const row = rows.find((r) => r.startsWith(`| \`${v}\` |`));
          // Cells after the name: one per service, in SERVICE_KINDS order; blank where it is not read.
          const cell = row?.split(' | ')[column + 1]?.replace(/ \|$/, '').trim();
          return !cell;
        })
        .map((v) => `${kind}: ${v}`),
    );
    assert.deepEqual(missing, []);
  });
});
