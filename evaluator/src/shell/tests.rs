use super::*;

fn show(line: &str) -> String {
    match parse(line) {
        CommandLine::Unknown(u) => format!("unknown: {}", u.reason),
        CommandLine::Known(cs) => cs
            .iter()
            .map(|c| {
                c.words
                    .iter()
                    .map(|w| if w.dynamic { format!("~{}", w.text) } else { w.text.clone() })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

#[test]
#[ignore]
fn explore() {
    let input = std::env::var("WRIT_SHELL_LINES").unwrap_or_default();
    for line in input.split("\n---\n") {
        println!("{line:?} => {}", show(line));
    }
}
