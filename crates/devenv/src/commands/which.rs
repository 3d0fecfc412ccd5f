//! `devenv which NAME…` / `devenv which --path`: the one program lookup.

use devenv_core::exit;
use devenv_core::output::{self, Failure};

pub fn run(names: &[String], path: bool) -> Result<u8, Failure> {
    if path {
        let dirs = devenv_core::tools::search_dirs();
        let joined = std::env::join_paths(dirs).map_err(|e| {
            Failure::new(
                exit::USAGE,
                format!("a search directory holds a ':' ({e}) — fix PATH"),
            )
        })?;
        output::println_redacted(&joined.to_string_lossy());
        return Ok(exit::OK);
    }
    let mut missing = Vec::new();
    for name in names {
        match devenv_core::tools::find(name) {
            Some(found) => output::println_redacted(&found.display().to_string()),
            None => missing.push(name.as_str()),
        }
    }
    if missing.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Failure::new(
            exit::FAILED,
            format!(
                "not found: {} (looked in PATH, /usr/sbin, /usr/lib/postgresql/*/bin and ~/.cargo/bin) — run `make setup`",
                missing.join(", ")
            ),
        ))
    }
}
