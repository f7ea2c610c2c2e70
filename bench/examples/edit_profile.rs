//! Profiling driver (not a benchmark): parse scaling and one edit on the language server
//! benchmark's policy. `cargo run --release -p writ-bench --example edit_profile -- parse|parseonce|edit|edit25 [UNITS] [ITERATIONS]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a measuring tool, never shipped: a broken scenario should stop the run loudly"
)]
use std::time::Instant;

/// The `writ` binary's allocator (src/main.rs), so that a profile shows what `writ lsp` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use writ_bench::editing::one_file;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let units: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(250);
    let iters: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let one = one_file(units);
    match mode.as_str() {
        "parse" => {
            for u in [50, 100, 250, 500] {
                let t = one_file(u);
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
        "edit" | "edit25" => {
            // `edit25`: the language server bench's other layout, a header and 25 files of the
            // same units, edited in the 13th.
            let files = if mode == "edit" {
                vec![("p.writ".to_string(), one.clone())]
            } else {
                writ_bench::editing::many_files(units, 25)
            };
            let edited = files.len() / 2;
            let original = files[edited].1.clone();
            let compiler = writ_compiler::Compiler::new(files);
            let _ = compiler.compilation();
            let mut db = compiler.db;
            let input = compiler.policy.files(&db)[edited];
            let changed = original.replacen("feature/*", "feature/x*", 1);
            for i in 0..iters {
                use salsa::Setter;
                let text = if i % 2 == 0 { changed.clone() } else { original.clone() };
                let start = Instant::now();
                input.set_text(&mut db).to(text);
                let c = writ_compiler::compile(&db, compiler.policy);
                std::hint::black_box(c);
                eprintln!("{:?}", start.elapsed());
            }
        }
        _ => eprintln!("parse | parseonce | edit | edit25"),
    }
}
