//! Compose variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`.
//! Defaults may nest (`${A:-${B}}`) and are only evaluated when used, as compose does.

use std::collections::BTreeMap;

use serde::Serialize;

/// One variable's value and the file it came from (an env file, a description, the process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    pub source: String,
}

/// The variables one environment is interpolated with; later sources override earlier ones.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    map: BTreeMap<String, Variable>,
    /// Report `${VAR:?err}` on an unset variable as unset instead of failing (used where
    /// values do not matter, e.g. checking image pins without the secrets bundle).
    pub lenient: bool,
}

impl Variables {
    pub fn set(&mut self, name: &str, value: &str, source: &str) {
        self.map.insert(
            name.to_string(),
            Variable {
                value: value.to_string(),
                source: source.to_string(),
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Variable)> {
        self.map.iter()
    }
}

/// A variable that was referenced without a value and without a default.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnsetVariable {
    pub name: String,
    /// The file whose text referenced it.
    pub file: String,
}

/// `${VAR:?message}` met an unset (or empty) variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredMissing {
    pub name: String,
    pub message: String,
}

/// Interpolates `text`. Unset variables without default become "" and are pushed to `unset`.
pub fn interpolate(
    text: &str,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> Result<String, RequiredMissing> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = bytes[i];
        if c != b'$' {
            let ch = text[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let start = i + 2;
                let Some(end) = closing_brace(text, start) else {
                    // Unterminated: compose rejects it; keeping the text shows the problem.
                    out.push_str(&text[i..]);
                    break;
                };
                out.push_str(&expand_braced(&text[start..end], vars, unset)?);
                i = end + 1;
            }
            Some(&n) if n == b'_' || n.is_ascii_alphabetic() => {
                let start = i + 1;
                let end = text[start..]
                    .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                    .map_or(text.len(), |p| start + p);
                let name = &text[start..end];
                match vars.get(name) {
                    Some(v) => out.push_str(&v.value),
                    None => unset.push(name.to_string()),
                }
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Index of the `}` closing a `${` whose body starts at `start`, honouring nested `${…}`.
fn closing_brace(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand_braced(
    body: &str,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> Result<String, RequiredMissing> {
    let name_end = body
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(body.len());
    let name = &body[..name_end];
    let op = &body[name_end..];
    let value = vars.get(name).map(|v| v.value.as_str());
    let (colon, rest) = match op.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, op),
    };
    // With `:`, an empty value counts as unset.
    let is_set = match value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let mut nested = |t: &str| interpolate(t, vars, unset);
    match rest.chars().next() {
        None => match value {
            Some(v) => Ok(v.to_string()),
            None => {
                unset.push(name.to_string());
                Ok(String::new())
            }
        },
        Some('-') => {
            if is_set {
                Ok(value.unwrap_or_default().to_string())
            } else {
                nested(&rest[1..])
            }
        }
        Some('?') => {
            if is_set {
                Ok(value.unwrap_or_default().to_string())
            } else if vars.lenient {
                unset.push(name.to_string());
                Ok(String::new())
            } else {
                let message = nested(&rest[1..])?;
                Err(RequiredMissing {
                    name: name.to_string(),
                    message,
                })
            }
        }
        Some('+') => {
            if is_set {
                nested(&rest[1..])
            } else {
                Ok(String::new())
            }
        }
        Some(_) => {
            // Not a form compose knows (e.g. `${A/b/c}`): keep it verbatim so it shows up.
            Ok(format!("${{{body}}}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        let mut v = Variables::default();
        for (k, val) in pairs {
            v.set(k, val, "test.env");
        }
        v
    }

    fn run(text: &str, v: &Variables) -> (Result<String, RequiredMissing>, Vec<String>) {
        let mut unset = Vec::new();
        (interpolate(text, v, &mut unset), unset)
    }

    #[test]
    fn every_form() {
        let v = vars(&[("A", "a"), ("EMPTY", "")]);
        let cases = [
            ("$A-${A}", "a-a"),
            ("${A:-d}", "a"),
            ("${EMPTY:-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${MISSING-d}", "d"),
            ("${MISSING:-${A}}", "a"),
            ("${A:+alt}", "alt"),
            ("${MISSING:+alt}", ""),
            ("$$A and $${A}", "$A and ${A}"),
            ("cost: 5$", "cost: 5$"),
            ("${A:?boom}", "a"),
        ];
        for (input, want) in cases {
            assert_eq!(run(input, &v).0.as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn unset_variables_are_reported() {
        let (out, unset) = run("x${NOPE}y$ALSO_NOT", &vars(&[]));
        assert_eq!(out.as_deref(), Ok("xy"));
        assert_eq!(unset, vec!["NOPE".to_string(), "ALSO_NOT".to_string()]);
        // A default means nothing is missing.
        let (_, unset) = run("${NOPE:-x}", &vars(&[]));
        assert!(unset.is_empty());
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        let (out, _) = run("${PW:?run make secrets-sync}", &vars(&[("PW", "")]));
        assert_eq!(
            out,
            Err(RequiredMissing {
                name: "PW".into(),
                message: "run make secrets-sync".into()
            })
        );
        // Without the colon an empty value is accepted.
        assert_eq!(run("${PW?x}", &vars(&[("PW", "")])).0.as_deref(), Ok(""));
    }

    proptest::proptest! {
        /// `$$` is the escape for `$`: escaping any text and interpolating it gives it back.
        #[test]
        fn escaped_text_round_trips(text in "[ -~]{0,40}") {
            let escaped = text.replace('$', "$$");
            let (out, unset) = run(&escaped, &vars(&[("A", "x")]));
            proptest::prop_assert_eq!(out, Ok(text));
            proptest::prop_assert!(unset.is_empty());
        }
    }

    #[test]
    fn nested_default_is_lazy() {
        // The nested `:?` must not fire when the outer variable is set.
        let v = vars(&[("OUTER", "o")]);
        assert_eq!(run("${OUTER:-${INNER:?no}}", &v).0.as_deref(), Ok("o"));
        assert!(run("${X:-${INNER:?no}}", &v).0.is_err());
    }
}
