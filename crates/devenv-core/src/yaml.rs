//! YAML errors as people need them: line, column and the message without serde's location suffix.

/// `(line, column, message)` of a YAML error; 1:1 when the parser gave no location.
pub fn error_location(e: &serde_norway::Error) -> (usize, usize, String) {
    let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
    let message = e
        .to_string()
        .split(" at line")
        .next()
        .unwrap_or_default()
        .to_string();
    (line, column, message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn locates_the_error() {
        let e = serde_norway::from_str::<std::collections::BTreeMap<String, u16>>("a: 1\nb: [\n")
            .unwrap_err();
        let (line, column, message) = super::error_location(&e);
        assert!(line >= 2, "{line}:{column} {message}");
        assert!(!message.contains(" at line"), "{message}");
    }
}
