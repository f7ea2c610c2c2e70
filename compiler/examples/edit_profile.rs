//! Profiling driver (not a benchmark): parse scaling and one edit on the generated policy.
use std::time::Instant;

fn unit(n: usize) -> String {
    format!(
        r#"/// Engineers of team {n}.
role role_{n} extends base {{
  may svc_{n}.*
  may deploy_{n} when env == "staging"
}}
tool svc_{n}.read(repo: string, branch: string) [read]
tool svc_{n}.write(repo: string, branch: string, files: [string]) [write]
tool deploy_{n}(env: "staging" | "prod", service: string) [write, prod]
evidence approval_{n} by human
/// The agents of team {n}.
workflow flow_{n} {{
  start by role_{n}
  max_depth 2
  allow svc_{n}.read
  allow svc_{n}.write when branch matches "feature/*" require approval_{n} by role_{n}
  allow deploy_{n} when env == "staging" and initiator.team == "t{n}"
  deny svc_{n}.write when branch == "main" because "never main"
  deny deploy_{n} when context.frozen
}}

"#
    )
}
const HEADER: &str = "role base\nattribute team: string\ncontext frozen: bool\n\n";

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let units: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(250);
    let iters: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut one = String::from(HEADER);
    for n in 0..units {
        one.push_str(&unit(n));
    }
    match mode.as_str() {
        "parse" => {
            for u in [50, 100, 250, 500] {
                let mut t = String::from(HEADER);
                for n in 0..u {
                    t.push_str(&unit(n));
                }
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(writ_grammar::parse(&t));
                }
                let per = start.elapsed() / iters as u32;
                println!("{} lines: {:?}", t.lines().count(), per);
            }
        }
        "parseonce" => {
            for _ in 0..iters {
                std::hint::black_box(writ_grammar::parse(&one));
            }
        }
        "edit" => {
            let compiler = writ_compiler::Compiler::new(vec![("p.writ".into(), one.clone())]);
            let _ = compiler.compilation();
            let mut db = compiler.db;
            let input = compiler.policy.files(&db)[0];
            let changed = one.replacen("feature/*", "feature/x*", 1);
            for i in 0..iters {
                use salsa::Setter;
                let text = if i % 2 == 0 { changed.clone() } else { one.clone() };
                let start = Instant::now();
                input.set_text(&mut db).to(text);
                let c = writ_compiler::compile(&db, compiler.policy);
                std::hint::black_box(c);
                eprintln!("{:?}", start.elapsed());
            }
        }
        _ => eprintln!("parse | parseonce | edit"),
    }
}
