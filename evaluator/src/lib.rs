//! The writ evaluator: the compiled policy, requests, decisions and `decide`.
//!
//! Depends on neither pest, salsa nor miette, so that a gateway can embed it cheaply.
//!
//! ```text
//! PolicyIr ──Policy::from_ir──▶ Policy ──decide(&Request)──▶ Decision
//!                                      ├─decide_json──▶ the Decision's JSON text
//!                                      └─decide_explained──▶ (Decision, Trace)
//! JSON ──Request::from_json──▶ Request (or RequestError: treat as deny)
//! ```
//!
//! ```
//! use writ_evaluator::{Outcome, Policy, Request, ir::PolicyIr};
//!
//! // `role dev { may ping }`, `tool ping`, `workflow w { allow ping }`, as the compiler lowers it.
//! let meta = |id: &str, text: &str| {
//!     serde_json::json!({"id": id, "file": "p.writ", "line": 1, "column": 1, "text": text})
//! };
//! let no_rules = serde_json::json!({"denies": [], "deny_starts": [], "requires": []});
//! let ir: PolicyIr = serde_json::from_value(serde_json::json!({
//!     "hash": "sha256:00",
//!     "roles": [{"name": "dev", "extends": [], "entitlements": [
//!         {"meta": meta("dev/may/1", "may ping"), "target": {"tools": [0], "text": "ping"},
//!          "condition": null}]}],
//!     "attributes": [], "contexts": [], "evidence": [],
//!     "tools": [{"name": "ping", "params": [], "tags": []}],
//!     "workflows": [{"name": "w", "max_depth": 1, "ttl_seconds": 3600, "starts": [],
//!         "allows": [{"meta": meta("w/allow/1", "allow ping"),
//!                     "target": {"tools": [0], "text": "ping"}, "condition": null, "require": []}],
//!         "rules": no_rules}],
//!     "guardrails": no_rules,
//! }))?;
//! let policy = Policy::from_ir(ir)?;
//!
//! let request = Request::from_json(r#"{"action": "call", "workflow": "w", "tool": "ping",
//!     "chain": [{"id": "ada", "kind": "human", "roles": ["dev"]}, {"id": "bot", "kind": "agent"}]}"#)?;
//! let decision = policy.decide(&request);
//! assert_eq!(decision.decision, Outcome::Allow);
//! assert_eq!(
//!     decision.to_json(),
//!     r#"{"decision":"allow","missing":[],"rules":["w/allow/1"],"reasons":[],"ttl_seconds":null,"policy":"sha256:00"}"#
//! );
//! // A gateway that only sends the text on: the same text, without building the `Decision`.
//! assert_eq!(policy.decide_json(&request), decision.to_json());
//!
//! let (_, trace) = policy.decide_explained(&request);
//! assert!(trace.to_string().contains("w/allow/1 (p.writ:1:1) `allow ping`: true -> matches"));
//!
//! let error = Request::from_json(r#"{"action": "call"}"#).unwrap_err();
//! assert_eq!(error.to_string(), "`workflow`: missing required field");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The procedure is that of `docs/language.md`, step by step; conditions are three-valued.
//! `reference::decide` (the `reference` feature, for tests) is the same procedure written naively over the IR (no indexes, no
//! interning, no bitsets); property tests check that the two decide alike on random policies
//! and requests (see `evaluator/README.md`).
//!
//! # Choices where the language specification is silent
//!
//! - **Values that are not writ values** (a float, an object, a mixed list) are well-formed
//!   JSON: wrong-typed as arguments and declared attributes or context values (deny, step 1),
//!   ignored under undeclared keys, never matching as evidence fields. `null` values are
//!   dropped (absent, hence unknown). See [`request`].
//! - **Step 1 reports every problem** it finds (unknown workflow and unknown tool, each bad
//!   argument, attribute and context value), not only the first.
//! - **Every applying deny is reported** (`rules` and `reasons`), in source order (file, line,
//!   column). A deny that applies because its condition is unknown says so in its reason, as
//!   do "no rule allows", "not entitled" and "no start rule admits" when a rule failed only for
//!   want of data: `(release/allow/1 reads a value the request lacks)`.
//! - **`rules`**: the allow (start) rule on allow; the applying denies (deny starts) on deny by
//!   rule; the matching allows on a delegation failure; the chosen path's rule plus the
//!   `require ... for` rules that state an unmet requirement on pending (the path's rule first,
//!   then those rules in source order); empty on step 1, step 2, "no rule allows", "no start
//!   rule admits" and ttl denials.
//! - **Delegation (call step 5)** checks every human and service principal of the chain (agents
//!   are not checked) and names each one that is not entitled; for each, the `may` rules of its
//!   roles are tried in role (declaration) order, then source order, until one is true.
//! - **Evidence**: items of kinds without givers count one each (`2 tests_passed` is met by two
//!   items); a giver counts once per requirement (told apart by `id`). An item is checked in
//!   this order: bound subject, fields, giver present, giver human, giver not in the chain, giver
//!   holds the role, giver not already counted; the trace names the first check it fails.
//!   Identical requirements (§7) have the same kind, role and fields, the fields compared as a
//!   set (`ticket(a: 1, b: 2)` is `ticket(b: 2, a: 1)`). `missing` follows the path: its own
//!   requirements, then those of the applying `require ... for` rules in source order, each
//!   merged into its first occurrence (which keeps its fields as written) with the larger count.
//! - **Starts**: the granted ttl is the requested one or the workflow's. A request built in code
//!   (not decoded) with an empty chain or a negative ttl is denied, never a panic.
//! - **Corrupt IR** is rejected by [`Policy::from_ir`] with a [`PolicyError`]: an index out of
//!   range, a cycle in `extends`, a name declared twice, a target with no tool, an ill-typed
//!   condition, `principal` outside an entitlement, an argument in a start rule, an argument a
//!   targeted tool lacks, a requirement with count 0, `by` on a kind not `by human`, an unknown
//!   or ill-typed evidence field, a negative ttl. Nested `and`s (`or`s) are flattened, so long
//!   binary chains do not nest deeply; other nesting deeper than 256 is rejected.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ir;

pub mod bundle;
mod bytes;
mod cond;
mod decide;
mod decision;
mod glob;
pub mod history;
mod json;
pub mod log;
pub mod path;
mod policy;
#[cfg(any(test, feature = "reference"))]
pub mod reference;
mod render;
pub mod request;
mod same;
pub mod shell;
pub mod statement;
pub mod time;
mod trace;

#[cfg(test)]
mod testing;

#[cfg(test)]
mod conformance;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod differential;

pub use cond::Tri;
pub use decision::{Decision, Missing, Outcome, RuleIds};
pub use glob::Glob;
pub use policy::{Policy, PolicyError, PolicyErrorKind};
pub use render::{calls as calls_text, command_pattern};
pub use request::{
    Action, EvidenceItem, HistoryEntry, Principal, Request, RequestError, RequestErrorKind,
    RequestValue, UnknownKey, UnknownKeys, format_duration, parse_duration,
};
pub use time::Timestamp;
pub use trace::{ItemRef, MayTried, RejectReason, Rejection, RuleRef, Trace, TraceStep};
