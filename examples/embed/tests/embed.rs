//! The embedding example runs on a bundle built from `examples/coding-agents/policy` and
//! decides each example request as the evaluator does from the compiled source.

use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

use writ_evaluator::{Policy, Request, bundle};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn decides_the_example_requests_from_a_signed_bundle() {
    let example = repo().join("examples/coding-agents");
    let compiler =
        writ_compiler::Compiler::new(writ_compiler::load(&example.join("policy")).unwrap());
    let ir = compiler.compilation().policy.clone().expect("the example compiles");
    let key = bundle::SigningKey::from_bytes(&[3; 32]);
    let bytes = bundle::write(&ir, SystemTime::now(), Some(&key)).unwrap();
    let source = Policy::from_ir(ir).unwrap();

    let dir = std::env::temp_dir().join(format!("writ-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle_path = dir.join("policy.writb");
    std::fs::write(&bundle_path, &bytes).unwrap();
    let key_path = dir.join("release.pub");
    std::fs::write(&key_path, bundle::encode_verifying_key(&key.verifying_key())).unwrap();

    let mut requests: Vec<PathBuf> =
        std::fs::read_dir(example.join("requests")).unwrap().map(|e| e.unwrap().path()).collect();
    requests.sort();
    assert!(!requests.is_empty());
    for request in &requests {
        let out = Command::new(env!("CARGO_BIN_EXE_writ-embed"))
            .arg(&bundle_path)
            .arg(request)
            .arg(&key_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", request.display());
        let expected =
            source.decide(&Request::from_json(&std::fs::read_to_string(request).unwrap()).unwrap());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), expected.to_json());
    }

    // Fail closed: a tampered bundle is refused, exit 2.
    let mut tampered = bytes.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    std::fs::write(&bundle_path, &tampered).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_writ-embed"))
        .arg(&bundle_path)
        .arg(&requests[0])
        .arg(&key_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    let _ = std::fs::remove_dir_all(&dir);
}
