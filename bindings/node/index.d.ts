// writ for Node: decide AI-agent tool calls with a compiled writ policy.

/** A principal of a request's chain (docs/language.md, "Principals"). */
export interface Principal {
  id: string;
  kind: "human" | "service" | "agent";
  roles?: string[];
  attrs?: Record<string, unknown>;
}

/** An evidence item (docs/language.md, "Evidence items"). */
export interface EvidenceItem {
  kind: string;
  by?: Principal;
  subject?: string;
  fields?: Record<string, unknown>;
}

/** A request (docs/language.md, "Requests"): an object, or its JSON text. */
export interface RequestObject {
  action: "call" | "start";
  workflow: string;
  tool?: string;
  args?: Record<string, unknown>;
  chain: Principal[];
  subject?: string;
  evidence?: EvidenceItem[];
  context?: Record<string, unknown>;
  ttl?: string;
  cwd?: string;
  time?: string;
  history?: { tool: string; at?: string }[];
  [extension: string]: unknown;
}
export type Request = RequestObject | string | Buffer;

/** One unmet evidence requirement of a pending decision. */
export interface Missing {
  evidence: string;
  by?: string;
  fields?: Record<string, unknown>;
  need: number;
  have: number;
}

/** A decision, as `writ eval` prints it. */
export interface Decision {
  decision: "allow" | "deny" | "pending";
  missing: Missing[];
  rules: string[];
  reasons: string[];
  ttl_seconds: number | null;
  policy: string;
}

/** A decision with its trace, as `writ eval --explain --format json` prints it. */
export interface Explained extends Decision {
  explain: unknown;
  unknown_keys?: { field: string; did_you_mean: string | null }[];
}

/** A batch element that is not a request (treat it as deny). */
export interface BatchError {
  error: string;
  field: string;
  kind: string;
  index: number;
}

/** A compiler diagnostic, as `writ check --format json` gives it. */
export interface Diagnostic {
  code: string;
  severity: "error" | "warning";
  message: string;
  file: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  start: number;
  end: number;
  label?: string;
  related?: { message: string; file: string; line: number; column: number }[];
  help?: string;
}

/** A compiled policy. Immutable. */
export class Policy {
  private constructor();
  /** Compiles a .writ file or a directory of them. Throws `PolicyError`. */
  static load(path: string): Policy;
  /** Loads a `writ build` bundle; with `verifyKey` (a `writ keygen` public key's text) only one it signed. Throws `PolicyError`. */
  static fromBundle(bundle: Uint8Array, verifyKey?: string | Buffer): Policy;
  /** The policy digest, `sha256:<hex>`. */
  readonly hash: string;
  /** Decides one request. Throws `RequestError` for a malformed one (treat as deny). */
  decide(request: Request): Decision;
  /** Decides a request's JSON text; the decision's JSON text. */
  decideJson(request: string): string;
  /** Decides each request in order; a malformed one is a `BatchError` in its place. */
  decideMany(requests: Iterable<Request>): (Decision | BatchError)[];
  /** The decision with its trace. Throws `RequestError`. */
  explain(request: Request): Explained;
  /** A guard deciding calls with this policy. */
  guard(options: GuardOptions): Guard;
}

/** Every diagnostic of the policy at `path` (errors and warnings). Throws `PolicyError` (kind `io`) only for a path that cannot be read. */
export function check(path: string): Diagnostic[];

type Supplier<T> = T | (() => T);

export interface GuardOptions {
  workflow: string;
  /** The whole chain; or give `principal` (and `agent`). */
  chain?: Supplier<Principal[]>;
  principal?: Supplier<Principal>;
  /** The agent calling for `principal`: an id or a principal. */
  agent?: string | Principal;
  evidence?: Supplier<EvidenceItem[] | null>;
  context?: Supplier<Record<string, unknown> | null>;
  subject?: Supplier<string | null>;
  cwd?: Supplier<string | null>;
}

/** Holds a request's context and decides each call before it runs. */
export class Guard {
  constructor(policy: Policy, options: GuardOptions);
  readonly policy: Policy;
  readonly workflow: string;
  /** The request a call of `tool` with `args` is decided with. */
  request(tool: string, args?: Record<string, unknown>): RequestObject;
  /** The decision on allow; throws `Denied`, `Pending` or `RequestError` otherwise. */
  check(tool: string, args?: Record<string, unknown>): Decision;
  /** Wraps `fn(args, ...rest)`: it runs only on allow. */
  wrap<A extends Record<string, unknown>, R extends unknown[], T>(
    tool: string,
    fn: (args: A, ...rest: R) => T,
  ): (args: A, ...rest: R) => T;
}

export class WritError extends Error {}
/** A request that is not a request. */
export class RequestError extends WritError {
  /** Where: `chain[1].kind`; empty for the whole request. */
  readonly field: string;
  /** `syntax`, `duplicate_key`, `missing`, `wrong_type`, `invalid_value`, `unknown_key`, `gateway`. */
  readonly kind: string;
}
/** A policy that could not be loaded. */
export class PolicyError extends WritError {
  /** `io`, `compile`, `invalid`, `bundle` or `key`. */
  readonly kind: string;
  /** On `compile`: the policy's diagnostics. */
  readonly diagnostics: Diagnostic[];
}
/** A guarded call that did not run. */
export class Refused extends WritError {
  readonly tool: string;
  readonly decision: Decision;
  readonly reasons: string[];
}
export class Denied extends Refused {}
export class Pending extends Refused {
  /** The evidence still needed. */
  readonly missing: Missing[];
}
