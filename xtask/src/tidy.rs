//! Tidy checks run as tests: every Rust file says why it exists in a leading `//!` line, and no test is hidden behind the ignore attribute.

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::sh;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn workspace_rust_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    rust_files(&sh::root(), &mut found);
    assert!(
        found.len() > 10,
        "found only {} Rust files: wrong root?",
        found.len()
    );
    found
}

#[test]
fn every_rust_file_opens_with_a_why_line() {
    let missing: Vec<_> = workspace_rust_files()
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("#!["));
            !first.is_some_and(|l| l.starts_with("//! "))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:#?}"
    );
}

#[test]
fn no_test_is_ignored() {
    let needle = ["#[", "ignore"].concat();
    let offenders: Vec<_> = workspace_rust_files()
        .into_iter()
        .filter(|path| fs::read_to_string(path).is_ok_and(|text| text.contains(&needle)))
        .collect();
    assert!(
        offenders.is_empty(),
        "ignored tests hide failures: {offenders:#?}"
    );
}
