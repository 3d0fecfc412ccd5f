//! `<binary> completions bash|zsh|fish`: one generator for every binary. A binary adds a
//! `Completions { shell: clap_complete::Shell }` subcommand and calls [`print`] with its clap
//! type; the script goes to stdout through the one output path.

use clap::CommandFactory;

pub use clap_complete::Shell;

/// Prints `C`'s completion script for `shell` on stdout.
pub fn print<C: CommandFactory>(shell: Shell) {
    crate::output::println_redacted(&script::<C>(shell));
}

/// `C`'s completion script for `shell`, named after the command (`#[command(name = …)]`).
pub fn script<C: CommandFactory>(shell: Shell) -> String {
    let mut cmd = C::command();
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    String::from_utf8_lossy(&out)
        .trim_end_matches('\n')
        .to_string()
}

#[cfg(test)]
mod tests {
    #[derive(clap::Parser)]
    #[command(name = "demo")]
    struct Demo {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        Start,
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [super::Shell::Bash, super::Shell::Zsh, super::Shell::Fish] {
            let text = super::script::<Demo>(shell);
            assert!(
                text.contains("demo") && text.contains("start"),
                "{shell}: {text}"
            );
        }
    }
}
