#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! docs/kubernetes/: the manifests docs/kubernetes.md describes pass a schema
//! check of the Kubernetes API (kubernetes-validate, strict: an unknown field
//! is an error), for the oldest version the design needs and the newest the
//! validator knows; and the check itself refuses a misspelt field and a
//! wrong type, naming the field.
//!
//! kubectl cannot do this here: its client-side dry run asks an API server
//! for the kinds it knows, and there is no cluster. kubernetes-validate
//! bundles the schemas and works offline; tests/run installs it (pinned) in
//! a virtual environment under target/tools. Without it these tests fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What tests/run installs; a different one may judge differently.
const VALIDATOR_VERSION: &str = "1.37.0";

/// The oldest Kubernetes whose exec closes stdin (v5.channel.k8s.io) without
/// a feature gate, and the newest the validator knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// Every manifest, with the resources it holds ("kind/name" as the validator
/// reports them).
const MANIFESTS: [(&str, &[&str]); 6] = [
    ("namespace.yaml", &["namespace/restore-drill"]),
    (
        "resourcequota.yaml",
        &["resourcequota/restore-drill-capacity"],
    ),
    (
        "rbac.yaml",
        &[
            "serviceaccount/restore-drill-runner",
            "serviceaccount/restore-drill-sandbox",
            "role/restore-drill-runner",
            "rolebinding/restore-drill-runner",
        ],
    ),
    (
        "networkpolicy.yaml",
        &["networkpolicy/restore-drill-sandbox-deny-all"],
    ),
    (
        "pod.yaml",
        &["pod/restore-drill-0f3a9c2e71b4-sandbox-5d1e07"],
    ),
    ("job.yaml", &["job/drill-northside-eye-clinic-2026-12"]),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn manifests() -> PathBuf {
    repo().join("docs/kubernetes")
}

/// The validator tests/run installs, or the one named by
/// RESTORE_DRILL_KUBERNETES_VALIDATE. Missing or of another version: the
/// test fails and says how to install it.
fn validator() -> PathBuf {
    let path = std::env::var_os("RESTORE_DRILL_KUBERNETES_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/tools/kubernetes-validate/bin/kubernetes-validate"));
    let out = Command::new(&path).arg("--version").output();
    let version = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => panic!(
            "{} --version failed ({}): {}. Fix: run tests/run, which reinstalls it",
            path.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!(
            "kubernetes-validate is not installed at {} ({e}). Fix: run tests/run (it installs \
             kubernetes-validate=={VALIDATOR_VERSION} there), or set \
             RESTORE_DRILL_KUBERNETES_VALIDATE to one",
            path.display()
        ),
    };
    assert_eq!(
        version,
        VALIDATOR_VERSION,
        "{} is kubernetes-validate {version}, the tests expect {VALIDATOR_VERSION}. Fix: run tests/run",
        path.display()
    );
    path
}

/// One run of the validator on `files`: its exit status and everything it
/// said.
fn validate(validator: &Path, files: &[PathBuf], kubernetes: &str) -> (Output, String) {
    let out = Command::new(validator)
        .args(["--strict", "--no-warn", "--kubernetes-version", kubernetes])
        .args(files)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn every_manifest_passes_the_schema_check() {
    let validator = validator();
    let files: Vec<PathBuf> = MANIFESTS.iter().map(|(n, _)| manifests().join(n)).collect();
    for version in KUBERNETES_VERSIONS {
        let (out, text) = validate(&validator, &files, version);
        assert!(
            out.status.success(),
            "against Kubernetes {version}:\n{text}"
        );
        let minor = version.rsplit_once('.').unwrap().0;
        for (name, resources) in MANIFESTS {
            for r in resources {
                let said = format!("{name} passed for resource {r} against version {minor}");
                assert!(text.contains(&said), "no \"{said}\" in:\n{text}");
            }
        }
    }
}

/// A manifest added to the folder is checked too, and each one is named in
/// the document that explains it.
#[test]
fn the_folder_holds_exactly_the_checked_manifests_and_the_doc_names_each() {
    let mut found: Vec<String> = std::fs::read_dir(manifests())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = MANIFESTS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "docs/kubernetes/ and MANIFESTS differ");
    let doc = std::fs::read_to_string(repo().join("docs/kubernetes.md")).unwrap();
    for name in listed {
        assert!(
            doc.contains(&format!("kubernetes/{name}")),
            "docs/kubernetes.md does not name kubernetes/{name}"
        );
    }
}

/// What makes the sandbox sealed holds together across files: the policy
/// selects the label the Pod carries, and the Pod keeps what Docker's
/// sandbox has.
#[test]
fn the_policy_selects_the_sandbox_and_the_sandbox_is_sealed() {
    let read = |n: &str| std::fs::read_to_string(manifests().join(n)).unwrap();
    let pod = read("pod.yaml");
    let policy = read("networkpolicy.yaml");
    let label = "org.restore-drill.role: sandbox";
    assert!(
        policy.contains(&format!("matchLabels:\n      {label}")),
        "{policy}"
    );
    assert!(pod.contains(&format!("    {label}\n")), "{pod}");
    assert!(policy.contains("- Ingress\n    - Egress\n"), "{policy}");
    assert!(
        !policy.contains("ingress:") && !policy.contains("egress:"),
        "{policy}"
    );
    for sealed in [
        "automountServiceAccountToken: false",
        "runAsNonRoot: true",
        "allowPrivilegeEscalation: false",
        "readOnlyRootFilesystem: true",
        "drop:\n            - ALL\n",
        "listen_addresses=",
        "medium: Memory",
    ] {
        assert!(pod.contains(sealed), "pod.yaml lacks {sealed:?}");
    }
    assert!(!pod.contains("add:"), "pod.yaml adds a capability");
}

/// The check can fail: a copy of the sandbox with one field misspelt, and
/// one with a field of the wrong type, are refused with the field named.
#[test]
fn a_misspelt_field_and_a_wrong_type_are_refused() {
    let validator = validator();
    let pod = std::fs::read_to_string(manifests().join("pod.yaml")).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("restore-drill-test-")
        .tempdir()
        .unwrap();
    let cases = [
        (
            "misspelt.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFileSystem: true",
            "'readOnlyRootFileSystem' was unexpected",
        ),
        (
            "wrong-type.yaml",
            "runAsNonRoot: true",
            "runAsNonRoot: \"yes\"",
            "spec.securityContext.runAsNonRoot: 'yes' is not of type 'boolean'",
        ),
    ];
    for (file, good, bad, said) in cases {
        assert_eq!(pod.matches(good).count(), 1, "{good:?} in pod.yaml");
        let path = dir.path().join(file);
        std::fs::write(&path, pod.replace(good, bad)).unwrap();
        let (out, text) = validate(&validator, &[path], KUBERNETES_VERSIONS[1]);
        assert!(!out.status.success(), "{file} passed:\n{text}");
        assert!(text.contains(said), "{file}: no {said:?} in:\n{text}");
    }
}
