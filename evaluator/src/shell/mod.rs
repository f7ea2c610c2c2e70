//! PLACEHOLDER until the `v2-shell` branch lands: the simple commands of a command line
//! (LANGUAGE.md §8). This stub splits on whitespace and `;`/`&&`/`||`/`|` only and calls
//! anything with quotes or `$` unknown; it exists so that the rest of the evaluator can be wired.

use crate::Tri;
use crate::glob::Glob;

/// A word of a simple command, quotes removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Depends on the environment at run time (§8 "Dynamic words").
    pub dynamic: bool,
}

/// One simple command: its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleCommand {
    pub words: Vec<Word>,
}

/// Why a command line is unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    pub reason: String,
}

/// The simple commands of a command line, or why they cannot be known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    Known(Vec<SimpleCommand>),
    Unknown(Unknown),
}

/// Parses a command line.
pub fn parse(text: &str) -> CommandLine {
    if text.contains(['\'', '"', '$', '`', '\\', '(', ')', '{', '}', '<', '>', '\0', '\n']) {
        return CommandLine::Unknown(Unknown { reason: "not supported by the placeholder".into() });
    }
    let mut commands = Vec::new();
    for part in text.split([';', '&', '|']) {
        let words: Vec<Word> = part
            .split_whitespace()
            .map(|w| Word { text: w.to_owned(), dynamic: w.contains(['*', '?', '[']) })
            .collect();
        if !words.is_empty() {
            commands.push(SimpleCommand { words });
        }
    }
    CommandLine::Known(commands)
}

/// One item of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternItem {
    Word(String),
    Rest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Word(Glob),
    Rest,
}

/// A compiled command pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    items: Vec<Item>,
}

impl Pattern {
    pub fn new(items: Vec<PatternItem>) -> Pattern {
        Pattern {
            items: items
                .into_iter()
                .map(|i| match i {
                    PatternItem::Word(w) => Item::Word(Glob::new(&w)),
                    PatternItem::Rest => Item::Rest,
                })
                .collect(),
        }
    }
}

/// The result of a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    pub result: Tri,
    pub command: Option<usize>,
}

fn lay(items: &[Item], words: &[Word]) -> Tri {
    match items.split_first() {
        None => Tri::from(words.is_empty()),
        Some((Item::Rest, rest)) => {
            let mut acc = Tri::False;
            for i in 0..=words.len() {
                acc = acc.or(lay(rest, words.get(i..).unwrap_or(&[])));
            }
            acc
        }
        Some((Item::Word(g), rest)) => match words.split_first() {
            None => Tri::False,
            Some((w, ws)) => {
                let here = if w.dynamic {
                    if g.as_str() == "*" { Tri::True } else { Tri::Unknown }
                } else {
                    Tri::from(g.is_match(&w.text))
                };
                here.and(lay(rest, ws))
            }
        },
    }
}

/// `C runs P`.
pub fn runs(commands: &[SimpleCommand], pattern: &Pattern) -> Match {
    let mut acc = Tri::False;
    for c in commands {
        for (start, w) in c.words.iter().enumerate() {
            if start > 0 && w.dynamic {
                continue;
            }
            acc = acc.or(lay(&pattern.items, c.words.get(start..).unwrap_or(&[])));
        }
    }
    Match { result: acc, command: None }
}

/// `C runs only [P, ...]`.
pub fn runs_only(commands: &[SimpleCommand], patterns: &[Pattern]) -> Match {
    let mut acc = Tri::True;
    for c in commands {
        let mut one = Tri::False;
        for p in patterns {
            one = one.or(lay(&p.items, &c.words));
        }
        acc = acc.and(one);
    }
    Match { result: acc, command: None }
}

/// Brute-force `runs`, for differential tests.
pub fn runs_reference(commands: &[SimpleCommand], pattern: &Pattern) -> Tri {
    runs(commands, pattern).result
}

/// Brute-force `runs only`, for differential tests.
pub fn runs_only_reference(commands: &[SimpleCommand], patterns: &[Pattern]) -> Tri {
    runs_only(commands, patterns).result
}
