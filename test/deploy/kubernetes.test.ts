/**
 * deploy/kubernetes: every manifest is checked offline against the Kubernetes
 * API schema for its apiVersion and kind (kubernetes-models ships them as
 * compiled validators, so nothing is fetched), for fields the API does not
 * define (TypeScript against the same package's interfaces), and for the
 * facts that tie the files together, read from the config as sluice loads it.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { type Config, parseConfigText } from "../../src/config/index.ts";

const DIR = resolve(import.meta.dir, "../../deploy/kubernetes");
const CONFIG_PATH = "/etc/sluice/config.toml";

type Validatable = new (data: never) => { validate(): void };
/** The schema for each `apiVersion/kind` the manifests may use; any other kind fails the test. */
const MODELS: Record<string, Validatable> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
};

// Manifests are untyped YAML; the schema check is what vouches for their shape.
type Doc = Record<string, any>;
interface Manifest {
  file: string;
  doc: Doc;
}

function parseYaml(file: string): Doc[] {
  const parsed: unknown = Bun.YAML.parse(readFileSync(join(DIR, file), "utf8"));
  // One document parses to itself, several to an array of them.
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  return docs.filter((d) => d !== null) as Doc[];
}

const kustomization = parseYaml("kustomization.yaml")[0] as Doc;
const resources: string[] = kustomization.resources ?? [];
const manifests: Manifest[] = resources.flatMap((file) => parseYaml(file).map((doc) => ({ file, doc })));

function label(m: Manifest): string {
  return `${m.file}: ${m.doc.kind}/${m.doc.metadata?.name}`;
}

/** Every schema violation of every document, as `file: Kind/name: data/path message`. */
function schemaErrors(list: Manifest[]): string[] {
  const errors: string[] = [];
  for (const m of list) {
    const Model = MODELS[`${m.doc.apiVersion}/${m.doc.kind}`];
    if (!Model) {
      errors.push(`${label(m)}: no schema for apiVersion ${m.doc.apiVersion}, kind ${m.doc.kind}`);
      continue;
    }
    try {
      new Model(m.doc as never).validate();
    } catch (err) {
      errors.push(`${label(m)}: ${(err as Error).message}`);
    }
  }
  return errors;
}

/**
 * Fields the Kubernetes API does not define. The schemas accept unknown
 * fields (as the API's OpenAPI document does), so a misspelt `replica:`
 * would pass them, while `kubectl apply` rejects it (strict field validation).
 * TypeScript's excess-property check against kubernetes-models' interfaces
 * catches it: each document becomes an object literal typed by its kind.
 */
function unknownFields(list: Manifest[]): string[] {
  const file = join(DIR, "__manifests__.ts");
  let source = "";
  // Where each key starts in `source`, so a diagnostic maps back to a manifest and a field path.
  const keys: { start: number; where: string }[] = [];
  const emit = (value: unknown, where: string, path: string): void => {
    if (Array.isArray(value)) {
      source += "[";
      value.forEach((v, i) => {
        source += i ? "," : "";
        emit(v, where, `${path}/${i}`);
      });
      source += "]";
    } else if (value !== null && typeof value === "object") {
      source += "{";
      Object.entries(value).forEach(([k, v], i) => {
        source += i ? "," : "";
        keys.push({ start: source.length, where: `${where}: ${path}/${k}` });
        source += `${JSON.stringify(k)}:`;
        emit(v, where, `${path}/${k}`);
      });
      source += "}";
    } else {
      source += JSON.stringify(value);
    }
  };
  list.forEach((m, i) => {
    const [group, version] = String(m.doc.apiVersion).includes("/") ? String(m.doc.apiVersion).split("/") : [undefined, m.doc.apiVersion];
    const module = ["kubernetes-models", group, version, m.doc.kind].filter(Boolean).join("/");
    source += `import type { I${m.doc.kind} as T${i} } from ${JSON.stringify(module)};\nexport const d${i}: T${i} = `;
    emit(m.doc, label(m), "");
    source += ";\n";
  });

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ESNext,
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    lib: ["lib.es2022.d.ts"],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists } = host;
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (d.file?.fileName !== file || d.start === undefined) return `${d.file?.fileName ?? ""}: ${message}`;
    const at = d.start;
    const key = keys.findLast((k) => k.start <= at);
    return `${key?.where ?? "?"}: ${message}`;
  });
}

function only(kind: string, predicate: (d: Doc) => boolean = () => true): Doc {
  const found = manifests.filter((m) => m.doc.kind === kind && predicate(m.doc));
  expect(found.map(label)).toHaveLength(1);
  return (found[0] as Manifest).doc;
}

function seconds(ms: number): number {
  return ms / 1000;
}

describe("deploy/kubernetes", () => {
  test("kustomization.yaml lists every manifest in the directory, and only those", () => {
    expect(kustomization.kind).toBe("Kustomization");
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...resources].sort()).toEqual(onDisk.sort());
  });

  test("every document is valid against the Kubernetes schema for its apiVersion and kind", () => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(schemaErrors(manifests)).toEqual([]);
  });

  test("no document has a field the Kubernetes API does not define", () => {
    expect(unknownFields(manifests)).toEqual([]);
  });

  test("the schema check catches a broken manifest", () => {
    const deployment = manifests.find((m) => m.doc.kind === "Deployment") as Manifest;
    const broken = structuredClone(deployment);
    broken.doc.spec.replicas = "2";
    expect(schemaErrors([broken])).toEqual([`${label(broken)}: data/spec/replicas must be integer`]);
  });

  test("the unknown-field check catches a misspelt field", () => {
    const deployment = manifests.find((m) => m.doc.kind === "Deployment") as Manifest;
    const broken = structuredClone(deployment);
    broken.doc.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem = true;
    expect(schemaErrors([broken])).toEqual([]);
    const errors = unknownFields([broken]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith(`${label(broken)}: /spec/template/spec/containers/0/securityContext/readOnlyRootFilesytem: `);
    expect(errors[0]).toContain("does not exist in type");
  });

  // The cross-file facts, read from the config as sluice would load it.
  const configMap = only("ConfigMap");
  const config: Config = parseConfigText(configMap.data["config.toml"], "toml");
  const deployment = only("Deployment");
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const appPorts = config.apps.flatMap((a) => a.ports).sort((a, b) => a - b);

  /** A probe's or Service's port, by number or by the container port's name. */
  function containerPort(port: number | string): number | undefined {
    if (typeof port === "number") return port;
    return container.ports.find((p: Doc) => p.name === port)?.containerPort;
  }

  test("the config in the ConfigMap is one sluice accepts", () => {
    expect(config.apps.length).toBeGreaterThan(0);
    expect(config.admin?.host).toBe("0.0.0.0");
  });

  test("the Deployment runs sluice on the ConfigMap's config", () => {
    expect(pod.containers).toHaveLength(1);
    expect(container.args).toEqual(["-c", CONFIG_PATH]);
    const mount = container.volumeMounts.find((v: Doc) => CONFIG_PATH.startsWith(`${v.mountPath}/`));
    const volume = pod.volumes.find((v: Doc) => v.name === mount?.name);
    expect(volume?.configMap?.name).toBe(configMap.metadata.name);
    expect(CONFIG_PATH.endsWith(`/${Object.keys(configMap.data)[0]}`)).toBe(true);
  });

  test("both probes ask /healthz on the admin port of the config", () => {
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.path).toBe("/healthz");
      expect(containerPort(probe.httpGet.port)).toBe(config.admin?.port);
    }
  });

  test("the grace period outlasts shutdown_timeout, and liveness does not kill a draining pod", () => {
    const grace: number = pod.terminationGracePeriodSeconds;
    expect(grace).toBeGreaterThan(seconds(config.shutdownTimeoutMs));
    // /healthz answers 503 while draining: liveness must not give up before the kubelet's own deadline.
    const live = container.livenessProbe;
    expect((live.periodSeconds ?? 10) * (live.failureThreshold ?? 3)).toBeGreaterThan(grace);
  });

  test("the pod runs as non-root with a read-only root and no capabilities", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBe(65532);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();
  });

  test("the container and the LoadBalancer Service expose exactly the config's app ports", () => {
    const declared = container.ports.map((p: Doc) => p.containerPort as number);
    for (const port of [...appPorts, config.admin?.port]) expect(declared).toContain(port);

    const lb = only("Service", (d) => d.spec.type === "LoadBalancer");
    expect(lb.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    const published = lb.spec.ports.map((p: Doc) => containerPort(p.targetPort ?? p.port)).sort((a: number, b: number) => a - b);
    expect(published).toEqual(appPorts);
  });

  test("the headless backend Service serves every port the config's targets under it use", () => {
    const headless = only("Service", (d) => d.spec.clusterIP === "None");
    const name: string = headless.metadata.name;
    const served = headless.spec.ports.map((p: Doc) => p.port as number);
    // The Service's own name (DNS discovery expands it to the pods) or a per-pod name under it.
    const targets = config.apps.flatMap((a) => a.targets).filter((t) => t.host === name || t.host.split(".")[1] === name);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(served).toContain(t.port);
  });
});
