//! `devenv completions bash|zsh|fish`: clap_complete's generator over the clap definition.
//!
//! [`write_to_stdout`] is generic over any clap `CommandFactory`, so another binary needs only a
//! `Completions { shell }` variant calling it (it belongs in devenv-core once that crate takes
//! clap_complete, which depends on nothing but clap).

use clap::CommandFactory;
use devenv_core::exit;
use devenv_core::output::Failure;

pub fn run(shell: clap_complete::Shell) -> Result<u8, Failure> {
    write_to_stdout::<crate::cli::Cli>(shell);
    Ok(exit::OK)
}

/// Writes `C`'s completion script for `shell` to stdout (through the one output path).
pub fn write_to_stdout<C: CommandFactory>(shell: clap_complete::Shell) {
    let mut cmd = C::command();
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    let text = String::from_utf8_lossy(&script);
    devenv_core::output::println_redacted(text.trim_end_matches('\n'));
}
