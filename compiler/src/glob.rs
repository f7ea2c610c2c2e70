//! Globs over tool names at compile time. The evaluator has the same matcher for run time;
//! both follow LANGUAGE.md §4.

/// Whether `text` matches `pattern` as a whole: `*` is any run of characters, `?` one character,
/// everything else literal. Linear in practice: the classic single-backtrack-point algorithm.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("repo.*", "repo.read"));
        assert!(glob_matches("repo.*", "repo.a.b"));
        assert!(!glob_matches("repo.*", "repository"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("*.read", "secrets.read"));
        assert!(glob_matches("[x]", "[x]"));
    }
}
