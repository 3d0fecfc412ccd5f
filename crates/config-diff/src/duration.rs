//! Compose durations normalised to one canonical spelling, so that `90s`, `1m30s` and
//! `1m30.0s` compare equal (parsing is devenv-core's).

pub use devenv_core::duration::{format, parse};

/// Normalises a duration string; text that is not a duration is returned unchanged.
pub fn normalise(text: &str) -> String {
    parse(text).map_or_else(|| text.to_string(), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_durations_share_one_spelling() {
        for (a, b) in [
            ("90s", "1m30s"),
            ("1m30s", "1m30.0s"),
            ("1.5s", "1500ms"),
            ("600s", "10m"),
            ("30", "30s"),
        ] {
            assert_eq!(normalise(a), normalise(b), "{a} vs {b}");
        }
        assert_eq!(normalise("soon"), "soon");
    }
}
