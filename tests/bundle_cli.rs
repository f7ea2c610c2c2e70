//! `writ keygen`, `writ build` and `writ eval --bundle` end to end: a bundle decides exactly as
//! its source does; a tampered, unsigned or foreign-signed bundle is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test fails by panicking; the library lints (Cargo.toml) are for shipped code"
)]

mod common;

use common::{Run, Writ, root};

/// `writ ARGS` with a fixed build time, so that bundles are byte-for-byte reproducible.
fn writ(args: &[&str]) -> Run {
    Writ::new(args).env("SOURCE_DATE_EPOCH", "1796077800").run()
}

use std::path::{Path, PathBuf};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("writ-bundle-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// The run's output with the temporary directory replaced by `[tmp]`, and the example's
/// policy hash and size by `[hash]` and `[n]` (they change with the example).
fn transcript(r: &Run, dir: &Path) -> String {
    let text = format!("exit: {}\n--- stdout\n{}--- stderr\n{}", r.code, r.stdout, r.stderr)
        .replace(&s(dir), "[tmp]");
    let mut out = String::new();
    for word in text.split_inclusive(' ') {
        let bare = word.trim_end_matches([' ', ',']);
        if bare.starts_with("sha256:") && bare.len() == 71 {
            out.push_str(&word.replace(bare, "[hash]"));
        } else if !bare.is_empty()
            && bare.bytes().all(|b| b.is_ascii_digit())
            && word.ends_with(' ')
        {
            out.push_str(&word.replace(bare, "[n]"));
        } else {
            out.push_str(word);
        }
    }
    out
}

#[test]
fn bundles_decide_as_their_source() {
    let dir = tempdir("same");
    let keys = dir.join("release");
    let made = writ(&["keygen", "-o", &s(&keys)]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let secret = std::fs::read_to_string(dir.join("release.key")).unwrap();
    assert!(secret.starts_with("writ-ed25519-secret:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("release.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secret key is private");
    }
    let public = s(&dir.join("release.pub"));

    let cases = [
        ("examples/coding-agents/policy", "examples/coding-agents/requests.jsonl"),
        ("examples/support-agents/policy.writ", ""),
    ];
    for (policy, requests) in cases {
        let bundle = dir.join("policy.writb");
        let built = writ(&[
            "build",
            "--policy",
            policy,
            "-o",
            &s(&bundle),
            "--sign",
            &s(&dir.join("release.key")),
        ]);
        assert_eq!(built.code, 0, "{}", built.stderr);
        assert!(built.stdout.contains("signed"), "{}", built.stdout);
        // Reproducible: the same policy and SOURCE_DATE_EPOCH give the same bytes.
        let first = std::fs::read(&bundle).unwrap();
        assert_eq!(
            writ(&[
                "build",
                "--policy",
                policy,
                "-o",
                &s(&bundle),
                "--sign",
                &s(&dir.join("release.key"))
            ])
            .code,
            0
        );
        assert_eq!(std::fs::read(&bundle).unwrap(), first);

        let mut request_files: Vec<String> = Vec::new();
        let example = Path::new(policy).parent().unwrap();
        for entry in std::fs::read_dir(root().join(example).join("requests")).unwrap() {
            request_files.push(s(&entry.unwrap().path()));
        }
        request_files.sort();
        assert!(!request_files.is_empty());
        for request in &request_files {
            let from_source = writ(&["eval", "--policy", policy, "--request", request]);
            let from_bundle = writ(&[
                "eval",
                "--bundle",
                &s(&bundle),
                "--verify-key",
                &public,
                "--request",
                request,
            ]);
            assert_eq!(from_bundle.code, from_source.code, "{request}: {}", from_bundle.stderr);
            assert_eq!(from_bundle.stdout, from_source.stdout, "{request}");
        }
        if !requests.is_empty() {
            let from_source =
                writ(&["eval", "--policy", policy, "--requests", requests, "--explain"]);
            let from_bundle =
                writ(&["eval", "--bundle", &s(&bundle), "--requests", requests, "--explain"]);
            assert_eq!(from_bundle.code, from_source.code);
            assert_eq!(from_bundle.stdout, from_source.stdout);
            assert!(from_bundle.stdout.lines().count() >= 4);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_bundles_and_keys_are_refused() {
    let dir = tempdir("refused");
    let policy = "examples/coding-agents/policy";
    let request = "examples/coding-agents/requests/prod-deploy-allowed.json";
    assert_eq!(writ(&["keygen", "-o", &s(&dir.join("a"))]).code, 0);
    assert_eq!(writ(&["keygen", "-o", &s(&dir.join("b"))]).code, 0);
    let signed = dir.join("signed.writb");
    let unsigned = dir.join("unsigned.writb");
    assert_eq!(
        writ(&["build", "--policy", policy, "-o", &s(&signed), "--sign", &s(&dir.join("a.key"))])
            .code,
        0
    );
    let built = writ(&["build", "--policy", policy, "-o", &s(&unsigned)]);
    assert_eq!(built.code, 0);
    insta::assert_snapshot!("build_unsigned", transcript(&built, &dir));
    // The version: by default the build time (SOURCE_DATE_EPOCH here); 1 or more.
    assert!(built.stdout.contains(": version 1796077800, policy"), "{}", built.stdout);
    let versioned = dir.join("versioned.writb");
    let built = writ(&["build", "--policy", policy, "-o", &s(&versioned), "--version", "7"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    assert!(built.stdout.contains(": version 7, policy"), "{}", built.stdout);
    let info = writ_evaluator::bundle::inspect(&std::fs::read(&versioned).unwrap()).unwrap();
    assert_eq!(info.version, 7);
    let zero = writ(&["build", "--policy", policy, "-o", &s(&versioned), "--version", "0"]);
    assert_eq!(zero.code, 2, "{}", zero.stderr);

    let eval = |bundle: &Path, key: Option<&str>| {
        let bundle = s(bundle);
        let mut args = vec!["eval", "--bundle", &bundle, "--request", request];
        if let Some(key) = key {
            args.extend(["--verify-key", key]);
        }
        writ(&args)
    };
    let (a, b) = (s(&dir.join("a.pub")), s(&dir.join("b.pub")));
    assert_eq!(eval(&signed, Some(&a)).code, 0);
    assert_eq!(eval(&signed, None).code, 0);
    assert_eq!(eval(&unsigned, None).code, 0);

    let wrong_key = eval(&signed, Some(&b));
    assert_eq!(wrong_key.code, 1);
    insta::assert_snapshot!("eval_wrong_key", transcript(&wrong_key, &dir));
    let not_signed = eval(&unsigned, Some(&a));
    assert_eq!(not_signed.code, 1);
    insta::assert_snapshot!("eval_unsigned_with_key", transcript(&not_signed, &dir));

    let mut bytes = std::fs::read(&signed).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    let tampered = dir.join("tampered.writb");
    std::fs::write(&tampered, &bytes).unwrap();
    let refused = eval(&tampered, Some(&a));
    assert_eq!(refused.code, 1);
    insta::assert_snapshot!("eval_tampered", transcript(&refused, &dir));
    assert_eq!(eval(&tampered, None).code, 1, "the checksum catches it without a key too");

    let truncated = dir.join("truncated.writb");
    std::fs::write(&truncated, &bytes[..100]).unwrap();
    insta::assert_snapshot!("eval_truncated", transcript(&eval(&truncated, None), &dir));

    let not_a_bundle = eval(Path::new("examples/coding-agents/requests.jsonl"), None);
    assert_eq!(not_a_bundle.code, 1);
    assert!(not_a_bundle.stderr.contains("not a writ bundle"), "{}", not_a_bundle.stderr);

    // A secret key where a public one belongs.
    let swapped = eval(&signed, Some(&s(&dir.join("a.key"))));
    assert_eq!(swapped.code, 2);
    insta::assert_snapshot!("eval_secret_as_verify_key", transcript(&swapped, &dir));

    let again = writ(&["keygen", "-o", &s(&dir.join("a"))]);
    assert_eq!(again.code, 2);
    insta::assert_snapshot!("keygen_refuses_to_overwrite", transcript(&again, &dir));

    let broken = writ(&[
        "build",
        "--policy",
        "compiler/tests/diagnostics/many_errors.writ",
        "-o",
        &s(&dir.join("x.writb")),
    ]);
    assert_eq!(broken.code, 1);
    assert!(!dir.join("x.writb").exists());

    let both = writ(&["eval", "--policy", policy, "--bundle", &s(&signed), "--request", request]);
    assert_eq!(both.code, 2);
    let key_without_bundle =
        writ(&["eval", "--policy", policy, "--verify-key", &a, "--request", request]);
    assert_eq!(key_without_bundle.code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
