//! The workspace's shape, checked on every `make test` so it stays as issue #15 left it:
//! no module cycles inside a crate, thin `lib.rs` files, a core without an async runtime, and
//! scripts that call the binaries instead of re-implementing a probe, JSON or masking.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 7,
        "expected the workspace's crates, found {dirs:?}"
    );
    dirs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file is, to two levels (`src/api/responses.rs` → `api::responses`,
/// `src/api/mod.rs` → `api`, `src/probe/s3/x.rs` → `probe::s3`); None for the crate root and
/// the binary's main.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.truncate(2);
    let name = parts.join("::");
    (!matches!(name.as_str(), "" | "lib" | "main" | "bin")).then_some(name)
}

/// The module a path written after `crate::` names: `a::b` when that is a module, else `a`.
fn referenced(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let idents: Vec<&str> = path
        .split("::")
        .map(|p| p.trim().trim_start_matches('{'))
        .take(2)
        .map(|p| {
            let end = p
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(p.len());
            &p[..end]
        })
        .collect();
    let first = (*idents.first()?).to_string();
    if let Some(second) = idents.get(1).filter(|s| !s.is_empty()) {
        let both = format!("{first}::{second}");
        if modules.contains(&both) {
            return Some(both);
        }
    }
    modules.contains(&first).then_some(first)
}

/// Edges between a crate's modules: `crate::x` written in module `m` (x ≠ m; a module may use
/// its own children and its parent).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests may reach anywhere, and comments name what they like; only the code's own
        // dependencies count.
        let before_tests = text.split("#[cfg(test)]").next().unwrap_or(&text);
        let code: String = before_tests
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let mut add = |path: &str| {
            if let Some(to) = referenced(path, &modules) {
                let related =
                    to.starts_with(&format!("{from}::")) || from.starts_with(&format!("{to}::"));
                if to != from && !related {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        };
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(list) = rest.strip_prefix('{') {
                // `use crate::{a, b::c}`: every item of the list.
                for item in list[..list.find('}').unwrap_or(list.len())].split(',') {
                    add(item);
                }
            } else {
                add(rest);
            }
        }
    }
    graph
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if let Some(c) = walk(graph, start, next, path, seen) {
                    return Some(c);
                }
                path.pop();
            }
        }
        None
    }
    walk(
        graph,
        start,
        start,
        &mut vec![start.to_string()],
        &mut BTreeSet::new(),
    )
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut cycles = Vec::new();
    for dir in crate_dirs() {
        let graph = module_graph(&dir.join("src"));
        for module in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, module) {
                cycles.push(format!(
                    "{}: {}",
                    dir.file_name().unwrap().to_string_lossy(),
                    cycle.join(" → ")
                ));
                break;
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a; mod b; mod c;").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::thing;").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::{c::other, x};").unwrap();
    std::fs::write(
        src.join("c.rs"),
        "fn f() { crate::a::g() }\n#[cfg(test)]\nuse crate::b;",
    )
    .unwrap();
    let graph = module_graph(src);
    assert_eq!(cycle_from(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    std::fs::write(
        src.join("c.rs"),
        "fn f() {}\n#[cfg(test)]\nmod t { use crate::a; }",
    )
    .unwrap();
    assert_eq!(
        cycle_from(&module_graph(src), "a"),
        None,
        "test-only uses do not count"
    );
}

#[test]
fn every_lib_rs_is_thin() {
    let fat: Vec<String> = crate_dirs()
        .into_iter()
        .filter_map(|dir| {
            let lines = std::fs::read_to_string(dir.join("src/lib.rs"))
                .ok()?
                .lines()
                .count();
            (lines > 150).then(|| format!("{} ({lines} lines)", dir.join("src/lib.rs").display()))
        })
        .collect();
    assert!(
        fat.is_empty(),
        "lib.rs over 150 lines (move commands into modules):\n{}",
        fat.join("\n")
    );
}

#[test]
fn scripts_call_the_binaries_instead_of_reimplementing_them() {
    // Forms that crept into scripts/dev before: hand-built JSON, a sed that masks passwords,
    // protocol probes of their own, failure classification by regex.
    let forbidden = [
        (
            "printf '{\"",
            "JSON built by printf: use `devenv json` or the binary's --json",
        ),
        ("json_escape", "JSON built by hand: use `devenv json`"),
        (
            "***@",
            "password masking of its own: use `devenv summary` / the binaries' redactor",
        ),
        ("redis-cli", "a Redis probe of its own: use dev-status"),
        ("/dev/tcp/", "a protocol probe of its own: use dev-status"),
        ("psql -h", "a PostgreSQL probe of its own: use dev-status"),
        (
            "classify()",
            "failure classification of its own: dev-status classifies",
        ),
        (
            "--aws-sigv4",
            "S3 requests of its own: use the binaries (aws-sdk-s3)",
        ),
    ];
    let dir = workspace_root().join("scripts/dev");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "sh") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            for (form, why) in &forbidden {
                if line.contains(form) {
                    found.push(format!("{}:{}: `{form}` — {why}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "scripts/dev re-implements the binaries:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_compiles_no_async_runtime_by_default() {
    let manifest =
        std::fs::read_to_string(workspace_root().join("crates/devenv-core/Cargo.toml")).unwrap();
    for dep in ["tokio", "reqwest"] {
        let line = manifest
            .lines()
            .find(|l| l.starts_with(&format!("{dep} ")))
            .map(str::to_string);
        if let Some(line) = line {
            assert!(
                line.contains("optional = true"),
                "devenv-core must not need {dep}: {line}"
            );
        }
    }
    let diff =
        std::fs::read_to_string(workspace_root().join("crates/config-diff/Cargo.toml")).unwrap();
    assert!(
        !diff.contains("tokio") && !diff.contains("reqwest"),
        "config-diff is synchronous"
    );
    let core_line = diff.lines().find(|l| l.starts_with("devenv-core")).unwrap();
    assert!(
        !core_line.contains("runtime"),
        "config-diff must not turn on core's runtime: {core_line}"
    );
}

/// rustfmt leaves a statement as written when it cannot fit it in 100 columns (inside macros,
/// long closures): such a line is over 100 columns without a string literal to blame.
#[test]
fn no_line_rustfmt_gave_up_on() {
    let mut files = Vec::new();
    for dir in crate_dirs() {
        rust_files(&dir, &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "target"))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    l.chars().count() > 100 && !l.trim_start().starts_with("//") && !l.contains('"')
                })
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        long.is_empty(),
        "lines rustfmt left over 100 columns (break them by hand):\n{}",
        long.join("\n")
    );
}
