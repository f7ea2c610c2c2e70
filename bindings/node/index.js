"use strict";
// writ for Node: decide AI-agent tool calls with a compiled writ policy.
// The native addon (writ.node, Rust) takes and gives JSON text; this file turns objects into
// JSON and back, throws typed errors, and holds the guard. See index.d.ts for the API.

let native;
try {
  native = require("./writ.node");
} catch (e) {
  if (e.code !== "MODULE_NOT_FOUND") throw e;
  throw new Error(
    "writ: the native addon (writ.node) is not built: run `npm run build` in bindings/node " +
      "of the writ repository (it needs Rust's cargo)",
  );
}

/** The base of every error this package throws. */
class WritError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request that is not a request. Never a decision: treat it as deny. */
class RequestError extends WritError {
  constructor(message, field = "", kind = "invalid_value") {
    super(message);
    this.field = field;
    this.kind = kind;
  }
}

/** A policy that could not be loaded; `diagnostics` when it has errors. */
class PolicyError extends WritError {
  constructor(message, kind = "io", diagnostics = []) {
    super(message);
    this.kind = kind;
    this.diagnostics = diagnostics;
  }
}

/** A guarded call that did not run: `Denied` or `Pending`. */
class Refused extends WritError {
  constructor(tool, decision, message) {
    super(message);
    this.tool = tool;
    this.decision = decision;
  }
  get reasons() {
    return this.decision.reasons || [];
  }
}

/** The policy denied the call. */
class Denied extends Refused {
  constructor(tool, decision) {
    super(tool, decision, `writ denied \`${tool}\`: ${(decision.reasons || []).join("; ") || "denied"}`);
  }
}

/** The policy allows the call once the evidence in `missing` is given. */
class Pending extends Refused {
  constructor(tool, decision) {
    const parts = (decision.missing || []).map(
      (m) => `${m.evidence}${m.by ? ` by ${m.by}` : ""} (need ${m.need}, have ${m.have})`,
    );
    super(tool, decision, `writ holds \`${tool}\` pending evidence: ${parts.join(", ")}`);
  }
  get missing() {
    return this.decision.missing || [];
  }
}

/** Rethrows the addon's errors as this package's. */
function rethrow(e) {
  if (e && (e.code === "WRIT_REQUEST" || e.code === "WRIT_POLICY")) {
    let body;
    try {
      body = JSON.parse(e.message);
    } catch {
      throw e;
    }
    if (e.code === "WRIT_REQUEST") throw new RequestError(body.message, body.field, body.kind);
    throw new PolicyError(body.message, body.kind, body.diagnostics);
  }
  throw e;
}

/** A request's JSON text: a string as it is, anything else through JSON.stringify. */
function text(request) {
  if (typeof request === "string") return request;
  if (Buffer.isBuffer(request)) return request.toString("utf8");
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new TypeError("a request is an object or its JSON text");
  }
  let json;
  try {
    json = JSON.stringify(request);
  } catch (e) {
    // A BigInt, a cycle: not JSON.
    throw new RequestError(`the request is not JSON: ${e.message}`, "", "wrong_type");
  }
  return json;
}

/** A compiled policy. */
class Policy {
  constructor(inner) {
    if (!(inner instanceof native.Policy)) {
      throw new TypeError("use Policy.load(path) or Policy.fromBundle(bytes)");
    }
    this._inner = inner;
  }

  /** Compiles the policy at `path` (a .writ file or a directory of them). */
  static load(path) {
    try {
      return new Policy(native.Policy.load(String(path)));
    } catch (e) {
      rethrow(e);
    }
  }

  /** Loads a `writ build` bundle; with `verifyKey` (a `writ keygen` public key's text) only one it signed. */
  static fromBundle(bundle, verifyKey) {
    const key = verifyKey == null ? undefined : Buffer.isBuffer(verifyKey) ? verifyKey.toString("utf8") : String(verifyKey);
    try {
      return new Policy(native.Policy.fromBundle(Buffer.from(bundle), key));
    } catch (e) {
      rethrow(e);
    }
  }

  /** The policy digest, `sha256:<hex>`. */
  get hash() {
    return this._inner.hash;
  }

  /** Decides one request (an object or its JSON text). */
  decide(request) {
    const json = text(request);
    let out;
    try {
      out = this._inner.decideJson(json);
    } catch (e) {
      rethrow(e);
    }
    return JSON.parse(out);
  }

  /** Decides a request's JSON text; the decision's JSON text. */
  decideJson(request) {
    try {
      return this._inner.decideJson(String(request));
    } catch (e) {
      rethrow(e);
    }
  }

  /** Decides each request in order; one that is not a request is `{error, field, kind, index}`. */
  decideMany(requests) {
    const texts = [];
    const unreadable = new Map();
    let index = 0;
    for (const request of requests) {
      try {
        texts.push(text(request));
      } catch (e) {
        unreadable.set(index, e);
        texts.push("null");
      }
      index += 1;
    }
    const out = JSON.parse(this._inner.decideManyJson(texts));
    for (const [i, e] of unreadable) {
      out[i] = { error: e.message, field: e.field || "", kind: e.kind || "wrong_type", index: i };
    }
    return out;
  }

  /** The decision with its trace under `explain`, as `writ eval --explain --format json`. */
  explain(request) {
    const json = text(request);
    try {
      return JSON.parse(this._inner.explainJson(json));
    } catch (e) {
      rethrow(e);
    }
  }

  /** A guard deciding calls with this policy. */
  guard(options) {
    return new Guard(this, options);
  }
}

/** Every diagnostic of the policy at `path`, as `writ check --format json`. */
function check(path) {
  try {
    return JSON.parse(native.checkJson(String(path)));
  } catch (e) {
    rethrow(e);
  }
}

const now = (v) => (typeof v === "function" ? v() : v);

/**
 * Holds a request's context (workflow, chain, evidence...) and decides each call before it runs.
 */
class Guard {
  constructor(policy, options = {}) {
    const { workflow, chain, principal, agent, evidence, context, subject, cwd } = options;
    if (!workflow) throw new TypeError("a guard needs `workflow`");
    if (chain == null && principal == null) throw new TypeError("a guard needs `chain` or `principal`");
    if (chain != null && (principal != null || agent != null)) {
      throw new TypeError("give either `chain` or `principal` (with `agent`), not both");
    }
    this.policy = policy;
    this.workflow = workflow;
    this._chain = chain;
    this._principal = principal;
    this._agent = typeof agent === "string" ? { id: agent, kind: "agent" } : agent;
    this._extra = { evidence, context, subject, cwd };
  }

  /** The request a call of `tool` with `args` is decided with. */
  request(tool, args = {}) {
    const chain = this._chain != null ? [...now(this._chain)] : [now(this._principal)];
    if (this._chain == null && this._agent != null) chain.push(this._agent);
    const request = { action: "call", workflow: this.workflow, tool, args: { ...args }, chain };
    for (const [key, supplier] of Object.entries(this._extra)) {
      if (supplier != null) {
        const value = now(supplier);
        if (value != null) request[key] = value;
      }
    }
    return request;
  }

  /** Decides a call: the decision on allow; throws `Denied` or `Pending` otherwise. */
  check(tool, args = {}) {
    const decision = this.policy.decide(this.request(tool, args));
    if (decision.decision === "allow") return decision;
    throw decision.decision === "pending" ? new Pending(tool, decision) : new Denied(tool, decision);
  }

  /**
   * Wraps `fn(args, ...rest)` (a function taking its arguments as one object, as MCP tool
   * handlers do): it runs only on allow; `Denied`/`Pending` are thrown otherwise.
   */
  wrap(tool, fn) {
    const guard = this;
    return function guarded(args, ...rest) {
      guard.check(tool, args || {});
      return fn.call(this, args, ...rest);
    };
  }
}

module.exports = {
  Policy,
  Guard,
  check,
  WritError,
  RequestError,
  PolicyError,
  Refused,
  Denied,
  Pending,
};
