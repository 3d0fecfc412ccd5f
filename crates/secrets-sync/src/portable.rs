//! Which values `devenv_core::bundle::quote` can write so that every dotenv reader we support
//! (bash `source`, python-dotenv, dotenvy, devenv-core's own parser) gets them back byte for
//! byte. Single quotes are literal in bash but python-dotenv decodes `\\` and `\'` inside them;
//! inside double quotes bash needs `$` and `` ` `` escaped while python-dotenv keeps the
//! backslash of `\$`. So a value holding `'` or `\` (no single quotes possible) together with
//! `$` or `` ` `` (no double quotes possible) has no portable spelling; python-dotenv also turns
//! a carriage return into a newline. Those values are refused rather than silently altered.

use devenv_core::bundle::Bundle;

use crate::error::SyncError;

/// True when the value reads back identically everywhere once quoted.
pub fn is_portable(value: &str) -> bool {
    let needs_double = value.contains('\'') || value.contains('\\');
    let breaks_double = value.contains('$') || value.contains('`');
    let unsafe_byte = value.contains('\r') || value.contains('\0');
    !(unsafe_byte || needs_double && breaks_double)
}

/// Refuses a bundle with any unportable value, naming the keys (never the values).
pub fn check(bundle: &Bundle) -> Result<(), SyncError> {
    let bad: Vec<&str> = bundle
        .iter()
        .filter(|(_, v)| !is_portable(v))
        .map(|(k, _)| k)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(SyncError::Unportable {
            keys: bad.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_values() {
        for ok in [
            "plain",
            "it's",
            "a\\b",
            "$HOME",
            "`x`",
            "multi\nline #x \"q\"",
        ] {
            assert!(is_portable(ok), "{ok}");
        }
        for bad in ["it's $HOME", "a\\b`c`", "cr\rlf", "nul\0"] {
            assert!(!is_portable(bad), "{bad:?}");
        }
    }
}
