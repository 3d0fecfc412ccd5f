//! Strong local credentials: generated from the OS CSPRNG, alphanumeric so they survive
//! URLs, dotenv files and shell quoting without encoding.

use rand::TryRngCore as _;
use rand::distr::{Alphanumeric, Distribution as _};
use rand::rngs::OsRng;

/// Length of generated passwords: 32 alphanumerics ≈ 190 bits.
pub const PASSWORD_LEN: usize = 32;

/// A random alphanumeric secret of `len` characters.
pub fn generate(len: usize) -> String {
    // OsRng reads getrandom(2) directly: no userspace state that could be forked or reseeded badly.
    let mut rng = OsRng.unwrap_err();
    Alphanumeric
        .sample_iter(&mut rng)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = super::generate(super::PASSWORD_LEN);
        let b = super::generate(super::PASSWORD_LEN);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
