//! Features: atoms the search treats as booleans and realizes with a concrete value only at the
//! leaf. `runs` and `runs only` (LANGUAGE.md §8) over a `command` argument, and `under` a
//! relative directory (§9), which depends on the request's `cwd`.
//!
//! A command line is realized by trying candidate lines built from the patterns' own words
//! (each glob instantiated, each `...` as nothing or one word), alone and in pairs, and asking
//! writ's own shell analysis which features each has. When none fits, the combination is shown
//! impossible when one pattern *covers* another (every command matched by the one is matched by
//! the other: a `runs P` that is true beside a `runs Q` that is false, with Q covering P), and
//! is otherwise left undecided: the claim is then "unknown", never "holds".

use writ_evaluator::Tri;
use writ_evaluator::ir::{CommandPatternIr, PatternItemIr};
use writ_evaluator::shell::{self, CommandLine};

use super::search::{Assignment, Val};

/// A feature, by what it asks.
#[derive(Clone, Debug, PartialEq)]
pub enum Feature {
    /// `ARG runs PATTERN`
    Runs { arg: String, pattern: CommandPatternIr },
    /// `ARG runs only [PATTERN, ...]`
    RunsOnly { arg: String, patterns: Vec<CommandPatternIr> },
    /// `ARG under DIR`, DIR relative: the path variable (by index) and the directory.
    UnderRelative { path: usize, dir: String },
}

impl Feature {
    fn arg(&self) -> Option<&str> {
        match self {
            Feature::Runs { arg, .. } | Feature::RunsOnly { arg, .. } => Some(arg),
            Feature::UnderRelative { .. } => None,
        }
    }
}

/// What the leaf adds to the request for the features.
#[derive(Clone, Debug, Default)]
pub struct Realized {
    /// Command arguments and their lines.
    pub commands: Vec<(String, String)>,
    pub cwd: Option<String>,
}

/// Why features could not be realized.
pub enum Unrealized {
    /// Shown impossible.
    Impossible,
    /// Not found, not shown impossible (the reason).
    Undecided(String),
}

/// Concrete command lines (and `cwd`) giving every assigned feature its value.
pub fn realize(
    features: &[Feature],
    feature_vars: &[Option<usize>],
    values: &Assignment,
) -> Result<Realized, Unrealized> {
    let wanted = |i: usize| -> Option<bool> {
        let v = feature_vars.get(i).copied().flatten()?;
        match values.get(v).and_then(Option::as_ref) {
            Some(Val::Bool(b)) => Some(*b),
            _ => None,
        }
    };
    let mut out = Realized::default();
    let mut args: Vec<&str> = features.iter().filter_map(Feature::arg).collect();
    args.sort();
    args.dedup();
    for arg in args {
        let mine: Vec<(usize, &Feature, bool)> = features
            .iter()
            .enumerate()
            .filter(|(_, f)| f.arg() == Some(arg))
            .filter_map(|(i, f)| wanted(i).map(|w| (i, f, w)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        match command_for(&mine) {
            Some(line) => out.commands.push((arg.to_string(), line)),
            None if impossible(&mine) => return Err(Unrealized::Impossible),
            None => {
                let asked: Vec<String> = mine.iter().map(|(_, f, w)| describe(f, *w)).collect();
                return Err(Unrealized::Undecided(format!(
                    "no command line was found for which {}, and none was shown impossible",
                    asked.join(" and ")
                )));
            }
        }
    }
    let relative: Vec<(usize, &str, bool)> = features
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            Feature::UnderRelative { path, dir } => wanted(i).map(|w| (*path, dir.as_str(), w)),
            _ => None,
        })
        .collect();
    if !relative.is_empty() {
        match cwd_for(&relative, values) {
            Some(cwd) => out.cwd = Some(cwd),
            None => {
                return Err(Unrealized::Undecided(
                    "no working directory was found that puts the paths under (or outside) \
                     the relative directories as needed"
                        .into(),
                ));
            }
        }
    }
    Ok(out)
}

fn describe(f: &Feature, want: bool) -> String {
    let not = if want { "" } else { "not " };
    match f {
        Feature::Runs { arg, pattern } => {
            format!("`{arg}` {not}runs {}", writ_evaluator::command_pattern(pattern))
        }
        Feature::RunsOnly { arg, patterns } => {
            let ps: Vec<String> = patterns.iter().map(writ_evaluator::command_pattern).collect();
            format!("`{arg}` {not}runs only [{}]", ps.join(", "))
        }
        Feature::UnderRelative { dir, .. } => format!("a path {not}under {dir:?}"),
    }
}

/// A word as bash reads it back exactly (quoted unless plain).
fn bash_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'/' | b'_' | b'=' | b':' | b',' | b'+' | b'%' | b'@')
        });
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

/// Words matching a glob: its stars as nothing and as one letter, its `?` as one letter.
fn instances(glob: &str) -> Vec<String> {
    let mut out = Vec::new();
    for fill in ["", "x"] {
        let w: String = glob
            .chars()
            .map(|c| match c {
                '*' => fill.to_string(),
                '?' => "x".to_string(),
                c => c.to_string(),
            })
            .collect();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Simple commands (as word lists) that a pattern matches: each item instantiated, each `...`
/// as nothing or one word of `pool` (the words of every pattern, and `x`).
fn pattern_commands(p: &CommandPatternIr, pool: &[String]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for item in &p.items {
        let options: Vec<Vec<String>> = match item {
            PatternItemIr::Word(g) => instances(g).into_iter().map(|w| vec![w]).collect(),
            PatternItemIr::Rest => {
                std::iter::once(Vec::new()).chain(pool.iter().map(|w| vec![w.clone()])).collect()
            }
        };
        let mut next = Vec::new();
        for base in &out {
            for o in &options {
                let mut w = base.clone();
                w.extend(o.iter().cloned());
                next.push(w);
            }
        }
        next.truncate(256);
        out = next;
    }
    out.retain(|w| !w.is_empty());
    out
}

fn pattern(p: &CommandPatternIr) -> shell::Pattern {
    shell::Pattern::from(p)
}

/// The feature's value on a parsed command line.
fn value_on(f: &Feature, commands: &[shell::SimpleCommand]) -> Tri {
    match f {
        Feature::Runs { pattern: p, .. } => shell::runs(commands, &pattern(p)).result,
        Feature::RunsOnly { patterns, .. } => {
            let ps: Vec<shell::Pattern> = patterns.iter().map(pattern).collect();
            shell::runs_only(commands, &ps).result
        }
        Feature::UnderRelative { .. } => Tri::Unknown,
    }
}

fn command_for(mine: &[(usize, &Feature, bool)]) -> Option<String> {
    let mut singles: Vec<String> = vec!["x".to_string()];
    let patterns: Vec<&CommandPatternIr> = mine
        .iter()
        .flat_map(|(_, f, _)| match f {
            Feature::Runs { pattern, .. } => vec![pattern],
            Feature::RunsOnly { patterns, .. } => patterns.iter().collect(),
            Feature::UnderRelative { .. } => Vec::new(),
        })
        .collect();
    let mut pool: Vec<String> = vec!["x".to_string()];
    for p in &patterns {
        for item in &p.items {
            if let PatternItemIr::Word(g) = item {
                for w in instances(g) {
                    if !pool.contains(&w) && !w.is_empty() {
                        pool.push(w);
                    }
                }
            }
        }
    }
    pool.truncate(12);
    {
        for p in &patterns {
            for words in pattern_commands(p, &pool) {
                let line: Vec<String> = words.iter().map(|w| bash_word(w)).collect();
                let line = line.join(" ");
                if !singles.contains(&line) {
                    singles.push(line);
                }
            }
        }
    }
    let mut lines: Vec<String> = vec![String::new()];
    lines.extend(singles.iter().cloned());
    let pairs = singles.len().min(48);
    for a in singles.iter().take(pairs) {
        for b in singles.iter().take(pairs) {
            if a != b {
                lines.push(format!("{a}; {b}"));
            }
        }
    }
    lines.into_iter().find(|line| {
        let CommandLine::Known(commands) = shell::parse(line) else { return false };
        mine.iter().all(|(_, f, want)| value_on(f, &commands) == Tri::from(*want))
    })
}

/// Whether the wanted values contradict each other by covering.
fn impossible(mine: &[(usize, &Feature, bool)]) -> bool {
    for (_, a, wa) in mine {
        for (_, b, wb) in mine {
            match (a, *wa, b, *wb) {
                (
                    Feature::Runs { pattern: p, .. },
                    true,
                    Feature::Runs { pattern: q, .. },
                    false,
                ) if covers(q, p) => {
                    return true;
                }
                (
                    Feature::RunsOnly { patterns: ps, .. },
                    true,
                    Feature::RunsOnly { patterns: qs, .. },
                    false,
                ) if ps.iter().all(|p| qs.iter().any(|q| covers(q, p))) => return true,
                _ => {}
            }
        }
    }
    false
}

/// Whether every word sequence `p` matches, `q` matches too (items laid over items: a string
/// item of `q` over one string item of `p` whose glob it contains; `...` of `q` over any items;
/// `...` of `p` only under `...` of `q`).
fn covers(q: &CommandPatternIr, p: &CommandPatternIr) -> bool {
    let (n, m) = (q.items.len(), p.items.len());
    // ok[i][j]: q.items[i..] covers p.items[j..]
    let mut ok = vec![vec![false; m + 1]; n + 1];
    if let Some(last) = ok.get_mut(n).and_then(|row| row.get_mut(m)) {
        *last = true;
    }
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            let value = match q.items.get(i) {
                Some(PatternItemIr::Rest) => {
                    // Cover nothing more, or one more item of p.
                    ok.get(i + 1).and_then(|r| r.get(j)).copied().unwrap_or(false)
                        || (j < m && ok.get(i).and_then(|r| r.get(j + 1)).copied().unwrap_or(false))
                }
                Some(PatternItemIr::Word(gq)) => match p.items.get(j) {
                    Some(PatternItemIr::Word(gp)) => {
                        crate::reach::globs::within(gp, gq)
                            && ok.get(i + 1).and_then(|r| r.get(j + 1)).copied().unwrap_or(false)
                    }
                    _ => false,
                },
                None => false,
            };
            if let Some(cell) = ok.get_mut(i).and_then(|r| r.get_mut(j)) {
                *cell = value;
            }
        }
    }
    ok.first().and_then(|r| r.first()).copied().unwrap_or(false)
}

fn cwd_for(relative: &[(usize, &str, bool)], values: &Assignment) -> Option<String> {
    let path_of = |v: usize| match values.get(v).and_then(Option::as_ref) {
        Some(Val::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let mut candidates: Vec<String> = vec!["/writ-verify-cwd".to_string()];
    for (v, dir, _) in relative {
        let Some(p) = path_of(*v) else { continue };
        let mut ancestor = p.clone();
        loop {
            candidates.push(ancestor.clone());
            // A cwd that puts `dir` exactly at this ancestor.
            let norm = writ_evaluator::path::resolve(dir, Some("/"))
                .map(|d| d.into_owned())
                .unwrap_or_default();
            if norm != "/"
                && let Some(base) = ancestor.strip_suffix(norm.as_str())
            {
                candidates.push(if base.is_empty() { "/".into() } else { base.to_string() });
            }
            match ancestor.rfind('/') {
                Some(0) if ancestor != "/" => ancestor = "/".to_string(),
                Some(i) if i > 0 => ancestor.truncate(i),
                _ => break,
            }
        }
    }
    candidates.into_iter().find(|cwd| {
        relative.iter().all(|(v, dir, want)| {
            let Some(p) = path_of(*v) else { return true };
            let Some(d) = writ_evaluator::path::resolve(dir, Some(cwd)) else { return false };
            writ_evaluator::path::is_under(&p, &d) == *want
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(items: &[&str]) -> CommandPatternIr {
        CommandPatternIr {
            items: items
                .iter()
                .map(|i| {
                    if *i == "..." {
                        PatternItemIr::Rest
                    } else {
                        PatternItemIr::Word(i.to_string())
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn covering() {
        assert!(covers(&pat(&["rm", "..."]), &pat(&["rm", "-rf", "..."])));
        assert!(covers(&pat(&["rm", "..."]), &pat(&["rm"])));
        assert!(!covers(&pat(&["rm", "-rf", "..."]), &pat(&["rm", "..."])));
        assert!(covers(&pat(&["...", "-*r*", "..."]), &pat(&["rm", "-rf", "x"])));
        assert!(!covers(&pat(&["git", "push"]), &pat(&["git", "push", "..."])));
    }
}
