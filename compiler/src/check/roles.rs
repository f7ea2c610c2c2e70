//! Roles: `extends` resolved (cycles reported once), each role's closure, and entitlements.

use std::collections::{BTreeSet, HashSet};
use writ_evaluator::ir::RoleId;

use writ_evaluator::ir::{EntitlementIr, RoleIr};
use writ_grammar::ast::Span;

use super::lower::condition_span;
use super::{Checker, Namespace, Scope};
use crate::diagnostic::{Code, Diagnostic};
use crate::symbols::{Declared, at};

impl<'a> Checker<'a> {
    /// Resolves `extends`, reports unknown parents and cycles, and computes each role's closure.
    pub(super) fn check_roles_extends(&mut self) {
        let roles = self.symbols.roles.clone();
        let mut parents: Vec<Vec<(usize, Span)>> = Vec::with_capacity(roles.len());
        for d in &roles {
            let mut ps = Vec::new();
            for parent in &d.decl.extends {
                match self.symbols.role(&parent.name) {
                    Some(p) => {
                        self.usage.roles.insert(p);
                        ps.push((p, parent.span));
                    }
                    None => self.unknown(Namespace::Role, d.file, parent.span, &parent.name),
                }
            }
            parents.push(ps);
        }
        // Cycles: depth-first search, reporting each cycle once, at the edge that closes it.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; roles.len()];
        let mut cyclic_edges: HashSet<(usize, usize)> = HashSet::new();
        for start in 0..roles.len() {
            match marks.get_mut(start) {
                Some(mark @ Mark::New) => *mark = Mark::Active,
                _ => continue,
            }
            // Iterative DFS: (role, next parent index). Roles and parents index `roles`.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            while let Some(&mut (role, ref mut next)) = stack.last_mut() {
                let Some(&(parent, span)) = parents.get(role).and_then(|ps| ps.get(*next)) else {
                    if let Some(mark) = marks.get_mut(role) {
                        *mark = Mark::Done;
                    }
                    stack.pop();
                    continue;
                };
                *next += 1;
                match marks.get_mut(parent) {
                    Some(mark @ Mark::New) => {
                        *mark = Mark::Active;
                        stack.push((parent, 0));
                    }
                    Some(Mark::Active) => {
                        cyclic_edges.insert((role, parent));
                        let from = stack.iter().position(|(r, _)| *r == parent).unwrap_or(0);
                        let cycle = stack.get(from..).unwrap_or_default();
                        self.extends_cycle(&roles, cycle, (role, span), parent);
                    }
                    Some(Mark::Done) | None => {}
                }
            }
        }
        self.parents = parents
            .iter()
            .enumerate()
            .map(|(r, ps)| {
                let mut out: Vec<usize> = Vec::new();
                for (p, _) in ps {
                    if !cyclic_edges.contains(&(r, *p)) && !out.contains(p) {
                        out.push(*p);
                    }
                }
                out
            })
            .collect();
        self.closure = (0..roles.len())
            .map(|r| {
                let mut seen = BTreeSet::new();
                let mut todo = vec![r];
                while let Some(x) = todo.pop() {
                    if seen.insert(x) {
                        todo.extend(self.parents.get(x).into_iter().flatten().copied());
                    }
                }
                seen
            })
            .collect();
    }

    /// Reports the cycle of `extends` that the edge `closing` (from a role, at a span) to
    /// `parent` closes; `cycle` is the search stack from `parent` on.
    fn extends_cycle(
        &mut self,
        roles: &[Declared<'_, writ_grammar::ast::RoleDecl>],
        cycle: &[(usize, usize)],
        closing: (usize, Span),
        parent: usize,
    ) {
        let name = |r: usize| roles.get(r).map_or("?", |d| d.decl.name.name.as_str());
        let (role, span) = closing;
        let path: Vec<String> = cycle
            .iter()
            .map(|(r, _)| name(*r))
            .chain(std::iter::once(name(parent)))
            .map(|p| format!("`{p}`"))
            .collect();
        let Some(closing_role) = roles.get(role) else {
            writ_stdx::never!("role {role} out of range");
            return;
        };
        let mut d = Diagnostic::new(
            Code::ExtendsCycle,
            at(closing_role.file, span),
            format!("role `{}` extends itself: {}", name(parent), path.join(" → ")),
        )
        .label("this closes the cycle")
        .help("`extends` must form a hierarchy: remove one of these `extends`");
        for (r, _) in cycle {
            if let Some(member) = roles.get(*r).filter(|_| *r != role) {
                d = d.related(
                    at(member.file, member.decl.name.span),
                    format!("`{}` is part of the cycle", member.decl.name.name),
                );
            }
        }
        self.report(d);
    }

    pub(super) fn roles(&mut self) -> Vec<RoleIr> {
        let decls = self.symbols.roles.clone();
        decls
            .iter()
            .enumerate()
            .map(|(r, d)| {
                let mut entitlements = Vec::new();
                for (n, e) in d.decl.body.iter().flatten().enumerate() {
                    let Some(target) = self.target(d.file, &e.target) else {
                        continue;
                    };
                    let tools: Vec<usize> = target.tools.iter().map(|t| t.index()).collect();
                    let scope = Scope {
                        in_may: true,
                        tools: Some(&tools),
                        target_text: &target.text,
                        ..Scope::untargeted(d.file)
                    };
                    let Some(condition) =
                        self.conditions(e.when.as_ref(), e.unless.as_ref(), scope)
                    else {
                        continue;
                    };
                    entitlements.push(EntitlementIr {
                        meta: self.meta(
                            format!("{}/may/{}", d.decl.name.name, n + 1),
                            d.file,
                            e.span,
                            condition_span(e.when.as_ref(), e.unless.as_ref()),
                        ),
                        target,
                        condition,
                    });
                }
                RoleIr {
                    name: d.decl.name.name.clone(),
                    extends: self
                        .parents
                        .get(r)
                        .map_or(Vec::new(), |ps| ps.iter().map(|p| RoleId(*p as u32)).collect()),
                    entitlements,
                }
            })
            .collect()
    }
}
