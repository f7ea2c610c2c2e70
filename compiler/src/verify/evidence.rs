//! Evidence that meets a set of count bounds (LANGUAGE.md §5 step 6, §11 `given`).
//!
//! Requirements are checked independently, and one item (one giver) may count for several, so
//! the bounds of one evidence kind are solved together. A giver of a `by human` kind is
//! described by what it counts for: the roles it holds (any set closed under `extends` is
//! possible: give it those roles directly) and the items it gives (any set of field values:
//! each field takes a value some bound names, or is left out). Its *vector* is the set of
//! bounds it counts for. Items of other kinds count one each, for the bounds whose fields they
//! carry. The solver picks how many givers (items) of each vector to use, each count from 0 to
//! one more than the largest bound (more never changes whether a bound holds), so it is exact.

use serde_json::{Map, Value as Json, json};
use writ_evaluator::ir::EvidenceId;
use writ_evaluator::ir::{EvidenceRequirementIr, PolicyIr, RoleId, Value};

/// One evidence item's attribute values, by name.
type Valuation = Vec<(String, Value)>;

/// The subject a counterexample's request and its bound evidence carry.
pub const SUBJECT: &str = "writ-verify-subject";

/// What a count must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    AtLeast(u32),
    Exactly(u32),
    AtMost(u32),
}

impl Bound {
    fn holds(self, n: u32) -> bool {
        match self {
            Bound::AtLeast(b) => n >= b,
            Bound::Exactly(b) => n == b,
            Bound::AtMost(b) => n <= b,
        }
    }

    /// The count can still be met once more items are added.
    fn open(self, n: u32) -> bool {
        match self {
            Bound::AtLeast(_) => true,
            Bound::Exactly(b) | Bound::AtMost(b) => n <= b,
        }
    }

    fn size(self) -> u32 {
        match self {
            Bound::AtLeast(b) | Bound::Exactly(b) | Bound::AtMost(b) => b,
        }
    }
}

/// Why no evidence was produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No evidence meets the bounds.
    Impossible,
    /// Too many combinations to try (the reason).
    TooLarge(String),
}

/// Steps of the count search before it gives up.
const MAX_STEPS: u64 = 400_000;
/// Giver types (role sets × item sets) of one kind before it gives up.
const MAX_TYPES: usize = 256;

/// One kind of giver or item: what it counts for, and how to write it.
#[derive(Clone, Debug)]
struct Type {
    /// Bit `i`: counts for bound `i` of this kind.
    vector: u64,
    /// Roles given directly (by human kinds).
    roles: Vec<RoleId>,
    /// The field values of each item it gives (one item for kinds without givers).
    items: Vec<Valuation>,
}

/// Evidence items (request JSON) meeting every bound, with fresh giver ids not in `taken`.
pub fn solve(
    ir: &PolicyIr,
    bounds: &[(EvidenceRequirementIr, Bound)],
    taken: &[String],
) -> Result<Vec<Json>, Failure> {
    let mut out = Vec::new();
    let mut next_giver = 0usize;
    let mut kinds: Vec<EvidenceId> = bounds.iter().map(|(r, _)| r.evidence).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let mine: Vec<&(EvidenceRequirementIr, Bound)> =
            bounds.iter().filter(|(r, _)| r.evidence == kind).collect();
        if mine.len() > 24 {
            return Err(Failure::TooLarge("more than 24 evidence counts of one kind".into()));
        }
        let Some(decl) = ir.evidence.get(kind.index()) else {
            return Err(Failure::Impossible);
        };
        let types = types(ir, decl.by_human, &mine)?;
        let counts = counts(&types, &mine)?;
        for (t, n) in types.iter().zip(counts) {
            for _ in 0..n {
                let giver = if decl.by_human {
                    let mut id = format!("writ-verify-giver-{next_giver}");
                    while taken.contains(&id) {
                        next_giver += 1;
                        id = format!("writ-verify-giver-{next_giver}");
                    }
                    next_giver += 1;
                    let roles: Vec<&str> = t
                        .roles
                        .iter()
                        .filter_map(|r| ir.roles.get(r.index()).map(|x| x.name.as_str()))
                        .collect();
                    Some(json!({"id": id, "kind": "human", "roles": roles}))
                } else {
                    None
                };
                for fields in &t.items {
                    let mut item = Map::new();
                    item.insert("kind".into(), json!(decl.name));
                    if !fields.is_empty() {
                        let f: Map<String, Json> = fields
                            .iter()
                            .map(|(k, v)| (k.clone(), crate::test_blocks::value_json(v)))
                            .collect();
                        item.insert("fields".into(), Json::Object(f));
                    }
                    if let Some(g) = &giver {
                        item.insert("by".into(), g.clone());
                    }
                    if decl.bound {
                        item.insert("subject".into(), json!(SUBJECT));
                    }
                    out.push(Json::Object(item));
                }
            }
        }
    }
    Ok(out)
}

/// Every role `role` holds through `extends`, itself included.
pub fn closure(ir: &PolicyIr, role: RoleId) -> Vec<RoleId> {
    let mut out = vec![role];
    let mut i = 0;
    while let Some(&r) = out.get(i) {
        i += 1;
        for &p in ir.roles.get(r.index()).map(|x| &x.extends[..]).unwrap_or(&[]) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn types(
    ir: &PolicyIr,
    by_human: bool,
    bounds: &[&(EvidenceRequirementIr, Bound)],
) -> Result<Vec<Type>, Failure> {
    // Field valuations: each field a bound names takes one of the values named, or is absent.
    let mut fields: Vec<(String, Vec<Value>)> = Vec::new();
    for (r, _) in bounds {
        for (name, v) in &r.fields {
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some((_, vs)) if !vs.contains(v) => vs.push(v.clone()),
                Some(_) => {}
                None => fields.push((name.clone(), vec![v.clone()])),
            }
        }
    }
    let mut valuations: Vec<Valuation> = vec![Vec::new()];
    for (name, values) in &fields {
        let mut next = Vec::new();
        for base in &valuations {
            next.push(base.clone());
            for v in values {
                let mut with = base.clone();
                with.push((name.clone(), v.clone()));
                next.push(with);
            }
        }
        valuations = next;
        if valuations.len() > 64 {
            return Err(Failure::TooLarge("too many combinations of evidence fields".into()));
        }
    }
    let vector_of = |valuation: &[(String, Value)]| -> u64 {
        let mut v = 0u64;
        for (i, (r, _)) in bounds.iter().enumerate() {
            if r.fields.iter().all(|f| valuation.contains(f)) {
                v |= 1 << i;
            }
        }
        v
    };
    let mut out: Vec<Type> = Vec::new();
    if !by_human {
        for valuation in valuations {
            let vector = vector_of(&valuation);
            if vector != 0 && !out.iter().any(|t| t.vector == vector) {
                out.push(Type { vector, roles: Vec::new(), items: vec![valuation] });
            }
        }
        return Ok(out);
    }
    // Item sets: the union of the vectors of the items given.
    let mut item_sets: Vec<(u64, Vec<Valuation>)> = vec![(0, Vec::new())];
    for valuation in &valuations {
        let v = vector_of(valuation);
        if v == 0 {
            continue;
        }
        let mut added = Vec::new();
        for (have, items) in &item_sets {
            let union = have | v;
            if !item_sets.iter().chain(added.iter()).any(|(x, _)| *x == union) {
                let mut items = items.clone();
                items.push(valuation.clone());
                added.push((union, items));
            }
        }
        item_sets.extend(added);
        if item_sets.len() > MAX_TYPES {
            return Err(Failure::TooLarge("too many kinds of evidence givers".into()));
        }
    }
    // Role sets: any subset of the roles the bounds name, closed under `extends`.
    let mut named: Vec<RoleId> = bounds.iter().filter_map(|(r, _)| r.by).collect();
    named.sort();
    named.dedup();
    if named.len() > 8 {
        return Err(Failure::TooLarge("evidence counts name more than 8 roles".into()));
    }
    let mut role_sets: Vec<(u64, Vec<RoleId>)> = Vec::new();
    for mask in 0u32..(1 << named.len()) {
        let given: Vec<RoleId> = named
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, r)| *r)
            .collect();
        let held: Vec<RoleId> = given.iter().flat_map(|r| closure(ir, *r)).collect();
        let mut v = 0u64;
        for (i, (r, _)) in bounds.iter().enumerate() {
            if r.by.is_none_or(|b| held.contains(&b)) {
                v |= 1 << i;
            }
        }
        if !role_sets.iter().any(|(x, _)| *x == v) {
            role_sets.push((v, given));
        }
    }
    for (rv, roles) in &role_sets {
        for (iv, items) in &item_sets {
            let vector = rv & iv;
            if vector != 0 && !out.iter().any(|t| t.vector == vector) {
                out.push(Type { vector, roles: roles.clone(), items: items.clone() });
            }
        }
    }
    if out.len() > MAX_TYPES {
        return Err(Failure::TooLarge("too many kinds of evidence givers".into()));
    }
    Ok(out)
}

/// How many of each type.
fn counts(types: &[Type], bounds: &[&(EvidenceRequirementIr, Bound)]) -> Result<Vec<u32>, Failure> {
    let cap = bounds.iter().map(|(_, b)| b.size()).max().unwrap_or(0) + 1;
    let mut chosen = vec![0u32; types.len()];
    let mut sums = vec![0u32; bounds.len()];
    let mut steps = 0u64;
    fn go(
        at: usize,
        types: &[Type],
        bounds: &[&(EvidenceRequirementIr, Bound)],
        cap: u32,
        chosen: &mut Vec<u32>,
        sums: &mut Vec<u32>,
        steps: &mut u64,
    ) -> Option<bool> {
        *steps += 1;
        if *steps > MAX_STEPS {
            return None;
        }
        let Some(t) = types.get(at) else {
            return Some(bounds.iter().zip(sums.iter()).all(|((_, b), n)| b.holds(*n)));
        };
        for n in 0..=cap {
            if let Some(slot) = chosen.get_mut(at) {
                *slot = n;
            }
            let ok = bounds.iter().zip(sums.iter()).enumerate().all(|(i, ((_, b), s))| {
                let add = if t.vector & (1 << i) != 0 { n } else { 0 };
                b.open(s + add)
            });
            if !ok {
                break;
            }
            for (i, s) in sums.iter_mut().enumerate() {
                if t.vector & (1 << i) != 0 {
                    *s += n;
                }
            }
            let found = go(at + 1, types, bounds, cap, chosen, sums, steps);
            for (i, s) in sums.iter_mut().enumerate() {
                if t.vector & (1 << i) != 0 {
                    *s -= n;
                }
            }
            match found {
                Some(true) => return Some(true),
                None => return None,
                Some(false) => {}
            }
        }
        if let Some(slot) = chosen.get_mut(at) {
            *slot = 0;
        }
        Some(false)
    }
    match go(0, types, bounds, cap, &mut chosen, &mut sums, &mut steps) {
        Some(true) => Ok(chosen),
        Some(false) => Err(Failure::Impossible),
        None => Err(Failure::TooLarge("too many ways to combine evidence".into())),
    }
}
