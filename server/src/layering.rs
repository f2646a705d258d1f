//! The direction of imports, checked: each context imports only the ones below it, pure domain
//! code imports nothing but the kernel, and SQL modules import no use case.

/// Lowest first. A module may import its own top-level module and any listed before it.
const LAYERS: [&str; 21] = [
    "shared",
    "reader",
    "error",
    "store",
    "accounts",
    "notifications",
    "webhooks",
    "metering",
    "billing",
    "payments",
    "spend",
    "onboarding",
    "portal",
    "admin",
    "demo",
    "backend",
    "jobs",
    "config",
    "http",
    "startup",
    "telemetry",
];

/// Every `crate::a::b` path in the text, as (a, b).
fn crate_paths(text: &str) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let mut parts = rest.split("::").map(|part| {
            part.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect::<String>()
        });
        let top = parts.next().unwrap_or_default();
        let second = parts.next().unwrap_or_default();
        paths.push((top, second));
    }
    paths
}

fn sources(folder: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("source folder") {
        let path = entry.expect("source entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn imports_point_down_and_domain_and_sql_modules_stay_in_their_layer() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = |name: &str| LAYERS.iter().position(|layer| *layer == name);
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&root).expect("below src").to_string_lossy().replace('\\', "/");
        let top = relative.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
        if ["main", "lib", "layering"].contains(&top.as_str()) {
            continue;
        }
        let own = rank(&top).unwrap_or_else(|| panic!("{relative}: add {top} to LAYERS"));
        let is_domain = relative.contains("/domain/") || top == "shared";
        let is_sql = relative.contains("/db/") || relative.ends_with("/db.rs");
        let text = std::fs::read_to_string(&file).expect("source");
        for (target, second) in crate_paths(&text) {
            let Some(target_rank) = rank(&target) else { continue };
            if target_rank > own {
                wrong.push(format!("{relative} imports crate::{target}, a layer above it"));
            }
            if is_domain && target != "shared" && !(target == top && second == "domain") {
                wrong.push(format!("{relative} is pure domain code but imports crate::{target}::{second}"));
            }
            let sql_may_use =
                ["shared", "error", "store"].contains(&target.as_str()) || second == "domain" || second == "db";
            if is_sql && !sql_may_use {
                wrong.push(format!("{relative} holds SQL but imports the use case crate::{target}::{second}"));
            }
        }
        if is_domain && (text.contains("app::api") || text.contains("sqlx::") || text.contains("tokio::")) {
            wrong.push(format!("{relative} is pure domain code but uses the UI crate, sqlx or tokio"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
