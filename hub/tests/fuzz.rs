//! The API fuzzed from its own OpenAPI document with schemathesis (from PyPI; `.ci/run`
//! installs it into `target/schemathesis`): on both backends, a bounded number of generated
//! requests per operation, including NUL bytes and control characters, must bring no 500 and
//! no answer the document does not declare (status, content type, body schema).
//!
//! Where schemathesis is not installed the test says so and passes, except in CI, where it
//! fails.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use orchestratia_testkit::{Backend, TestHub};

/// Generated requests per operation and phase: enough to reach NUL bytes in bodies, paths and
/// queries, few enough for a CI run (about a minute per backend).
const EXAMPLES: &str = "25";

fn schemathesis() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ORCHESTRATIA_SCHEMATHESIS") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/schemathesis/bin/st");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("st"))
            .find(|p| p.exists())
    })
}

async fn fuzz(backend: Backend) {
    let Some(st) = schemathesis() else {
        assert!(
            std::env::var("CI").is_err(),
            "schemathesis is not installed (.ci/run installs it into target/schemathesis)"
        );
        eprintln!(
            "skipped: schemathesis is not installed (python3 -m venv target/schemathesis && target/schemathesis/bin/pip install schemathesis)"
        );
        return;
    };
    let Some(hub) = TestHub::start(backend).await else {
        return;
    };
    let out = tokio::process::Command::new(&st)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", hub.url))
        .args(["-H", &format!("Authorization: Bearer {}", hub.admin_token)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", EXAMPLES, "--seed", "1", "--workers", "2"])
        .args(["--phases", "coverage,fuzzing,stateful"])
        .args(["--generation-allow-x00", "true", "--request-timeout", "30"])
        // The WebSockets are not REST; revoking admin tokens would revoke the fuzzer's own
        // (both are tested elsewhere).
        .args(["--exclude-path-regex", "/ws$|^/admin/tokens/"])
        .args(["--no-color", "--output-truncate", "false"])
        .current_dir(hub.dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
}

on_both_backends!(fuzz);
