//! Strings that tell patterns apart: for a set of string patterns (literals, `matches` globs,
//! the prefixes of `under`), one string from every region of the plane they cut, where a region
//! is the set of strings matched by exactly the same patterns.
//!
//! Every pattern is a small automaton (a glob's positions, `*` looping). The regions are found
//! by a breadth-first walk over the product of their determinized states on an alphabet made of
//! every character the patterns name plus one that none names (it stands for all the others):
//! each product state reached is reached first by one of its shortest strings, and the set of
//! patterns that accept in that state is the region of that string. The walk is exact; it
//! stops (and says so) past [`MAX_STATES`] states.

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use std::collections::VecDeque;

/// More product states than this: the regions are not all known.
pub const MAX_STATES: usize = 20_000;

/// One token of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tok {
    Lit(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Run,
}

/// A string pattern: a glob, a literal (all [`Tok::Lit`]), or a prefix (`under`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern(pub Vec<Tok>);

impl Pattern {
    /// A `matches` glob (LANGUAGE.md §4).
    pub fn glob(text: &str) -> Pattern {
        Pattern(
            text.chars()
                .map(|c| match c {
                    '*' => Tok::Run,
                    '?' => Tok::One,
                    c => Tok::Lit(c),
                })
                .collect(),
        )
    }

    /// Exactly this string.
    pub fn literal(text: &str) -> Pattern {
        Pattern(text.chars().map(Tok::Lit).collect())
    }

    /// This string followed by `/` and anything: what lies beneath a directory.
    pub fn beneath(dir: &str) -> Pattern {
        let mut toks: Vec<Tok> = dir.chars().map(Tok::Lit).collect();
        if dir != "/" {
            toks.push(Tok::Lit('/'));
        }
        toks.push(Tok::Run);
        Pattern(toks)
    }

    /// Whether the whole string matches.
    pub fn matches(&self, text: &str) -> bool {
        let mut state = self.start();
        for c in text.chars() {
            state = self.step(&state, Some(c));
            if state.iter().all(|b| !b) {
                return false;
            }
        }
        self.accepts(&state)
    }

    fn close(&self, state: &mut [bool]) {
        for i in 0..self.0.len() {
            if state.get(i).copied().unwrap_or(false)
                && self.0.get(i) == Some(&Tok::Run)
                && let Some(next) = state.get_mut(i + 1)
            {
                *next = true;
            }
        }
    }

    fn start(&self) -> Vec<bool> {
        let mut s = vec![false; self.0.len() + 1];
        if let Some(first) = s.first_mut() {
            *first = true;
        }
        self.close(&mut s);
        s
    }

    /// One character (`None`: a character no pattern names).
    fn step(&self, state: &[bool], c: Option<char>) -> Vec<bool> {
        let mut next = vec![false; self.0.len() + 1];
        for (i, on) in state.iter().enumerate() {
            if !on {
                continue;
            }
            let to = match self.0.get(i) {
                Some(Tok::Run) => Some(i),
                Some(Tok::One) => Some(i + 1),
                Some(Tok::Lit(l)) if Some(*l) == c => Some(i + 1),
                _ => None,
            };
            if let Some(slot) = to.and_then(|t| next.get_mut(t)) {
                *slot = true;
            }
        }
        self.close(&mut next);
        next
    }

    fn accepts(&self, state: &[bool]) -> bool {
        state.last().copied().unwrap_or(false)
    }
}

/// What the strings must also be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Any string.
    Any,
    /// A principal's id (§7): not empty, no whitespace at either end, no control character.
    Id,
    /// A resolved path (§9): absolute, no empty, `.` or `..` segment, no trailing `/` but for
    /// `/` itself.
    Path,
}

impl Shape {
    pub fn admits(self, s: &str) -> bool {
        match self {
            Shape::Any => true,
            Shape::Id => {
                !s.is_empty()
                    && !s.starts_with(char::is_whitespace)
                    && !s.ends_with(char::is_whitespace)
                    && !s.chars().any(|c| c.is_control())
            }
            Shape::Path => writ_evaluator::path::is_canonical(s),
        }
    }
}

/// The states of a path's own automaton (see [`Shape::Path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PathState {
    Start,
    Root,
    Slash,
    Dot,
    DotDot,
    Segment,
    Dead,
}

impl PathState {
    /// The state after one more character, for strings of `shape`.
    fn step(self, shape: Shape, c: Option<char>) -> PathState {
        use PathState::*;
        if shape != Shape::Path {
            // Only "empty or not" matters (an id is never empty).
            return if self == Dead { Dead } else { Segment };
        }
        match (self, c) {
            (Dead, _) | (_, Some('\0')) => Dead,
            (Start, Some('/')) => Root,
            (Start, _) => Dead,
            (Root | Slash, Some('/')) => Dead,
            (Root | Slash, Some('.')) => Dot,
            (Root | Slash, _) => Segment,
            (Dot | DotDot, Some('/')) => Dead,
            (Dot, Some('.')) => DotDot,
            (Dot | DotDot, _) => Segment,
            (Segment, Some('/')) => Slash,
            (Segment, _) => Segment,
        }
    }

    fn accepts(self, shape: Shape) -> bool {
        match shape {
            Shape::Path => matches!(self, PathState::Root | PathState::Segment),
            Shape::Id => self == PathState::Segment,
            Shape::Any => true,
        }
    }
}

/// The representatives found: for each region (which patterns match), a few strings of the
/// shape asked for.
#[derive(Clone, Debug, Default)]
pub struct Regions {
    pub strings: Vec<String>,
    /// The walk stopped early: some region may have no representative.
    pub incomplete: bool,
}

/// A pattern's automaton as bitsets, position `i` in bit `i` (patterns of fewer than 127
/// tokens): stepping is a few shifts and masks instead of a vector per step.
struct Bits {
    /// Positions holding `*`.
    run: u128,
    /// Positions that a letter moves past: per letter of the alphabet (`?` and that letter),
    /// the last for the letter no pattern names.
    moves: Vec<u128>,
    accept: u128,
}

impl Bits {
    fn new(p: &Pattern, letters: &[Option<char>]) -> Option<Bits> {
        if p.0.len() >= 127 {
            return None;
        }
        let mut run = 0u128;
        let mut one = 0u128;
        for (i, t) in p.0.iter().enumerate() {
            match t {
                Tok::Run => run |= 1 << i,
                Tok::One => one |= 1 << i,
                Tok::Lit(_) => {}
            }
        }
        let moves = letters
            .iter()
            .map(|l| {
                let mut m = one;
                for (i, t) in p.0.iter().enumerate() {
                    if let (Tok::Lit(c), Some(l)) = (t, l)
                        && c == l
                    {
                        m |= 1 << i;
                    }
                }
                m
            })
            .collect();
        Some(Bits { run, moves, accept: 1 << p.0.len() })
    }

    fn close(&self, mut s: u128) -> u128 {
        loop {
            let next = s | ((s & self.run) << 1);
            if next == s {
                return s;
            }
            s = next;
        }
    }

    fn start(&self) -> u128 {
        self.close(1)
    }

    fn step(&self, s: u128, letter: usize) -> u128 {
        let moves = self.moves.get(letter).copied().unwrap_or(0);
        self.close((s & self.run) | ((s & moves) << 1))
    }
}

/// One string per region (up to `per_region` when several product states share a region),
/// shortest first, each of the shape asked for.
pub fn regions(
    patterns: &[Pattern],
    shape: Shape,
    per_region: usize,
    max_states: usize,
) -> Regions {
    let (letters, other_char) = alphabet(patterns, shape);
    let bits: Option<Vec<Bits>> = patterns.iter().map(|p| Bits::new(p, &letters)).collect();
    let Some(bits) = bits else {
        return regions_general(patterns, shape, per_region, max_states);
    };
    type State = (Vec<u128>, PathState);
    let start: State = (bits.iter().map(Bits::start).collect(), PathState::Start);
    let mut seen: FxHashSet<State> = FxHashSet::default();
    let mut found: HashMap<Vec<bool>, usize> = HashMap::default();
    let mut out = Regions::default();
    let mut queue: VecDeque<(State, String)> = VecDeque::new();
    seen.insert(start.clone());
    queue.push_back((start, String::new()));
    while let Some(((states, path), text)) = queue.pop_front() {
        let shape_ok = path.accepts(shape) && shape.admits(&text);
        if shape_ok {
            let signature: Vec<bool> =
                bits.iter().zip(&states).map(|(b, s)| s & b.accept != 0).collect();
            let n = found.entry(signature).or_insert(0);
            if *n < per_region {
                *n += 1;
                out.strings.push(text.clone());
            }
        }
        for (li, letter) in letters.iter().enumerate() {
            let next_path = path.step(shape, *letter);
            if next_path == PathState::Dead {
                continue;
            }
            let next: Vec<u128> = bits.iter().zip(&states).map(|(b, s)| b.step(*s, li)).collect();
            let key = (next, next_path);
            if seen.contains(&key) {
                continue;
            }
            if seen.len() >= max_states {
                out.incomplete = true;
                return out;
            }
            seen.insert(key.clone());
            let mut t = text.clone();
            t.push(letter.unwrap_or(other_char));
            queue.push_back((key, t));
        }
    }
    out
}

/// The letters of the walk (every character a pattern names, then `None` for all others) and
/// the character that stands for the others.
fn alphabet(patterns: &[Pattern], shape: Shape) -> (Vec<Option<char>>, char) {
    let mut alphabet: Vec<char> = Vec::new();
    for p in patterns {
        for t in &p.0 {
            if let Tok::Lit(c) = t
                && !alphabet.contains(c)
            {
                alphabet.push(*c);
            }
        }
    }
    if shape == Shape::Path {
        for c in ['/', '.'] {
            if !alphabet.contains(&c) {
                alphabet.push(c);
            }
        }
    }
    let other = ['x', 'y', 'z', 'q', 'w', 'k', 'v', 'j']
        .into_iter()
        .chain('a'..='z')
        .find(|c| !alphabet.contains(c));
    let mut letters: Vec<Option<char>> = alphabet.iter().copied().map(Some).collect();
    letters.sort();
    if other.is_some() {
        letters.push(None);
    }
    (letters, other.unwrap_or('x'))
}

/// [`regions`] for patterns too long for [`Bits`].
fn regions_general(
    patterns: &[Pattern],
    shape: Shape,
    per_region: usize,
    max_states: usize,
) -> Regions {
    let (letters, other_char) = alphabet(patterns, shape);

    type State = (Vec<Vec<bool>>, PathState);
    let start: State = (patterns.iter().map(Pattern::start).collect(), PathState::Start);
    let mut seen: HashMap<State, ()> = HashMap::default();
    let mut found: HashMap<Vec<bool>, usize> = HashMap::default();
    let mut out = Regions::default();
    let mut queue: VecDeque<(State, String)> = VecDeque::new();
    seen.insert(start.clone(), ());
    queue.push_back((start, String::new()));
    while let Some(((states, path), text)) = queue.pop_front() {
        let shape_ok = path.accepts(shape) && shape.admits(&text);
        if shape_ok {
            let signature: Vec<bool> =
                patterns.iter().zip(&states).map(|(p, s)| p.accepts(s)).collect();
            let n = found.entry(signature).or_insert(0);
            if *n < per_region {
                *n += 1;
                out.strings.push(text.clone());
            }
        }
        for letter in &letters {
            let next_path = path.step(shape, *letter);
            if next_path == PathState::Dead {
                continue;
            }
            let next: Vec<Vec<bool>> =
                patterns.iter().zip(&states).map(|(p, s)| p.step(s, *letter)).collect();
            let key = (next, next_path);
            if seen.contains_key(&key) {
                continue;
            }
            if seen.len() >= max_states {
                out.incomplete = true;
                return out;
            }
            seen.insert(key.clone(), ());
            let mut t = text.clone();
            t.push(letter.unwrap_or(other_char));
            queue.push_back((key, t));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_separate_globs_and_literals() {
        let ps = vec![Pattern::glob("feature/*"), Pattern::literal("main"), Pattern::glob("*x*")];
        let r = regions(&ps, Shape::Any, 1, MAX_STATES);
        assert!(!r.incomplete);
        let sigs: std::collections::HashSet<Vec<bool>> =
            r.strings.iter().map(|s| ps.iter().map(|p| p.matches(s)).collect()).collect();
        // feature/ with and without x, main, x alone, nothing.
        assert!(sigs.contains(&vec![true, false, false]));
        assert!(sigs.contains(&vec![true, false, true]));
        assert!(sigs.contains(&vec![false, true, false]));
        assert!(sigs.contains(&vec![false, false, true]));
        assert!(sigs.contains(&vec![false, false, false]));
    }

    #[test]
    fn paths_are_canonical() {
        let ps = vec![Pattern::literal("/etc"), Pattern::beneath("/etc")];
        let r = regions(&ps, Shape::Path, 1, MAX_STATES);
        assert!(r.strings.iter().all(|s| Shape::Path.admits(s)), "{:?}", r.strings);
        assert!(r.strings.iter().any(|s| s == "/etc"));
        assert!(r.strings.iter().any(|s| s.starts_with("/etc/")));
        assert!(r.strings.iter().any(|s| !s.starts_with("/etc")));
    }

    #[test]
    fn ids_are_never_empty() {
        let r = regions(&[Pattern::glob("*")], Shape::Id, 1, MAX_STATES);
        assert!(r.strings.iter().all(|s| !s.is_empty()));
        assert!(!r.strings.is_empty());
    }
}
