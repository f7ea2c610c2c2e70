//! Reasoning about pairs of `matches` globs (LANGUAGE.md §4: `*` any run of characters, `?`
//! exactly one, everything else literal).

/// Whether some string matches both globs. Explores the product of the two patterns'
/// automata; patterns too large to explore answer `true` ("may overlap"), which only ever
/// keeps a condition that could have been simplified.
pub fn overlap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let states = (n + 1).saturating_mul(m + 1);
    if states > 100_000 {
        return true;
    }
    let index = |i: usize, j: usize| i * (m + 1) + j;
    let mut seen = vec![false; states];
    let mut stack = vec![(0usize, 0usize)];
    if let Some(start) = seen.first_mut() {
        *start = true;
    }
    // One step of one pattern that consumes a character: (next position, the character or
    // `None` for any character).
    fn steps(p: &[char], i: usize) -> Vec<(usize, Option<char>)> {
        match p.get(i) {
            None => Vec::new(),
            Some('*') => vec![(i, None)],
            Some('?') => vec![(i + 1, None)],
            Some(&c) => vec![(i + 1, Some(c))],
        }
    }
    while let Some((i, j)) = stack.pop() {
        if i == n && j == m {
            return true;
        }
        let mut next = Vec::new();
        // A star may match nothing.
        if a.get(i) == Some(&'*') {
            next.push((i + 1, j));
        }
        if b.get(j) == Some(&'*') {
            next.push((i, j + 1));
        }
        for (i2, ca) in steps(&a, i) {
            for (j2, cb) in steps(&b, j) {
                let compatible = match (ca, cb) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                if compatible {
                    next.push((i2, j2));
                }
            }
        }
        for (i2, j2) in next {
            let k = index(i2, j2);
            if let Some(s) = seen.get_mut(k)
                && !*s
            {
                *s = true;
                stack.push((i2, j2));
            }
        }
    }
    false
}

/// Whether the glob matches every string (it is one or more `*`).
pub fn universal(glob: &str) -> bool {
    !glob.is_empty() && glob.chars().all(|c| c == '*')
}

/// Whether every string matching `a` also matches `b`, as far as cheap reasoning can tell
/// (`false` when unsure).
pub fn within(a: &str, b: &str) -> bool {
    a == b || universal(b) || (!a.contains(['*', '?']) && writ_evaluator::Glob::new(b).is_match(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_disjoint_globs() {
        assert!(!overlap("deploy/*", "prod/*"));
        assert!(overlap("deploy/*", "*/token"));
        assert!(overlap("*", ""));
        assert!(!overlap("a?", "a"));
        assert!(overlap("a?c", "*c"));
        assert!(!overlap("*.rs", "*.md"));
        assert!(overlap("a*b*c", "*bc"));
        assert!(!overlap("x*", "y*"));
        assert!(overlap("", ""));
        assert!(!overlap("", "?"));
        assert!(overlap("é?", "?😀"));
    }

    #[test]
    fn containment() {
        assert!(within("deploy/*", "deploy/*"));
        assert!(within("deploy/*", "**"));
        assert!(within("deploy/api", "deploy/*"));
        assert!(!within("deploy/*", "deploy/a*"));
        assert!(!within("x", ""));
    }
}
