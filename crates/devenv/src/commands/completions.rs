//! `devenv completions bash|zsh|fish`: devenv-core's one generator over devenv's clap definition.

use devenv_core::exit;
use devenv_core::output::Failure;

pub fn run(shell: devenv_core::completions::Shell) -> Result<u8, Failure> {
    devenv_core::completions::print::<crate::cli::Cli>(shell);
    Ok(exit::OK)
}
