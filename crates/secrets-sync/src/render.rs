//! `secrets-sync render`: `configs/dev/<service>.env.tpl` → `.devenv/config/<service>.env`.
//!
//! A template is dotenv-shaped: `KEY=text with ${VAR} placeholders`, `#` comments, blank lines.
//! Each `${VAR}` is replaced by the bundle's value in one pass (a value that itself contains
//! `${…}` is not expanded again); `$${` writes a literal `${`. The rendered value is then
//! quoted with the bundle's own quoting, so newlines, quotes and `#` survive any dotenv reader.
//! Any placeholder the bundle cannot fill fails the whole render, listing every one of them,
//! and nothing is written.

use std::path::{Path, PathBuf};

use devenv_core::bundle::Bundle;

use crate::error::SyncError;

/// One `KEY=value` line of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateLine {
    pub line: usize,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub service: String,
    pub path: PathBuf,
    pub lines: Vec<TemplateLine>,
}

/// A placeholder the bundle could not fill.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unresolved {
    pub path: PathBuf,
    pub line: usize,
    pub name: String,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: ${{{}}}",
            self.path.display(),
            self.line,
            self.name
        )
    }
}

/// A template's `KEY=value` lines with their numbers: blank lines and `#` comments skipped,
/// surrounding blanks and a leading `export ` removed.
fn assignments(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(idx, raw)| (idx + 1, raw.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, line.strip_prefix("export ").unwrap_or(line)))
}

impl Template {
    pub fn parse(service: &str, path: &Path, text: &str) -> Result<Self, SyncError> {
        let mut lines = Vec::new();
        for (line_no, line) in assignments(text) {
            let bad = |message: &str| SyncError::Mapping {
                path: path.to_path_buf(),
                line: line_no,
                column: 1,
                message: message.to_string(),
            };
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| bad("expected KEY=value"))?;
            let key = key.trim();
            if !is_name(key) {
                return Err(bad("the key must be letters, digits and `_`"));
            }
            let value = value.trim().to_string();
            // Validate placeholder syntax now so a typo is reported with its line.
            substitute(&value, &Bundle::new()).map_err(|m| bad(&m))?;
            lines.push(TemplateLine {
                line: line_no,
                key: key.to_string(),
                value,
            });
        }
        Ok(Self {
            service: service.to_string(),
            path: path.to_path_buf(),
            lines,
        })
    }

    /// Renders against a bundle: the filled-in pairs, or every unresolved placeholder.
    pub fn render(&self, bundle: &Bundle) -> Result<Bundle, Vec<Unresolved>> {
        let mut out = Bundle::new();
        let mut missing = Vec::new();
        for l in &self.lines {
            match substitute(&l.value, bundle) {
                Ok(Substituted { text, unresolved }) => {
                    missing.extend(unresolved.into_iter().map(|name| Unresolved {
                        path: self.path.clone(),
                        line: l.line,
                        name,
                    }));
                    out.set(l.key.clone(), text);
                }
                Err(_) => unreachable!("syntax was checked at parse time"),
            }
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(missing)
        }
    }
}

struct Substituted {
    text: String,
    unresolved: Vec<String>,
}

/// One pass of `${NAME}` substitution. Err only for malformed syntax.
fn substitute(text: &str, bundle: &Bundle) -> Result<Substituted, String> {
    let mut out = String::with_capacity(text.len());
    let mut unresolved = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail
                .find('}')
                .ok_or_else(|| "unterminated `${` (close it with `}`)".to_string())?;
            let name = &tail[..end];
            if !is_name(name) {
                return Err(format!(
                    "`${{{name}}}` is not a placeholder (use ${{NAME}} with letters, digits and _)"
                ));
            }
            match bundle.get(name) {
                Some(v) => out.push_str(v),
                None => unresolved.push(name.to_string()),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(Substituted {
        text: out,
        unresolved,
    })
}

/// A template key or placeholder name: letters, digits and `_`, not starting with a digit.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Loads every `*.env.tpl` in `dir`, sorted by service name.
pub fn load_templates(dir: &Path, only: &[String]) -> Result<Vec<Template>, SyncError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SyncError::ReadFile {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut templates = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(service) = name.strip_suffix(".env.tpl") else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|s| s == service) {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path).map_err(|source| SyncError::ReadFile {
            path: path.clone(),
            source,
        })?;
        templates.push(Template::parse(service, &path, &text)?);
    }
    templates.sort_by(|a, b| a.service.cmp(&b.service));
    if let Some(wanted) = only
        .iter()
        .find(|s| !templates.iter().any(|t| &t.service == *s))
    {
        return Err(SyncError::Usage(format!(
            "no template {}/{wanted}.env.tpl — create it or drop `--service {wanted}`",
            dir.display()
        )));
    }
    if templates.is_empty() {
        return Err(SyncError::Usage(format!(
            "no *.env.tpl templates in {} — add one (see crates/secrets-sync/README.md)",
            dir.display()
        )));
    }
    Ok(templates)
}

/// Renders every template; all or nothing. Returns the rendered bundles by service.
pub fn render_all(
    templates: &[Template],
    bundle: &Bundle,
) -> Result<Vec<(String, Bundle)>, SyncError> {
    let mut rendered = Vec::new();
    let mut missing = Vec::new();
    for t in templates {
        match t.render(bundle) {
            Ok(b) => rendered.push((t.service.clone(), b)),
            Err(m) => missing.extend(m),
        }
    }
    if missing.is_empty() {
        Ok(rendered)
    } else {
        Err(SyncError::Unresolved {
            count: missing.len(),
            list: missing
                .iter()
                .map(|u| format!("  {u}"))
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bundle(pairs: &[(&str, &str)]) -> Bundle {
        let mut b = Bundle::new();
        for (k, v) in pairs {
            b.set(*k, *v);
        }
        b
    }

    #[test]
    fn substitutes_once_and_keeps_escapes() {
        let t = Template::parse(
            "api",
            Path::new("api.env.tpl"),
            "# c\nURL=${DATABASE_URL}?x=1\nLIT=$${HOME} and $5\n",
        )
        .unwrap();
        let b = bundle(&[("DATABASE_URL", "postgres://u:${NOT}@h/db")]);
        let out = t.render(&b).unwrap();
        assert_eq!(out.get("URL"), Some("postgres://u:${NOT}@h/db?x=1"));
        assert_eq!(out.get("LIT"), Some("${HOME} and $5"));
    }

    #[test]
    fn malformed_placeholder_names_the_line() {
        let err = Template::parse("api", Path::new("api.env.tpl"), "A=1\nB=${oops\n").unwrap_err();
        assert!(err.to_string().starts_with("api.env.tpl:2:"), "{err}");
        let err = Template::parse("api", Path::new("api.env.tpl"), "B=${a-b}\n").unwrap_err();
        assert!(err.to_string().contains("not a placeholder"), "{err}");
    }

    fn var_name() -> impl Strategy<Value = String> {
        "[A-Z][A-Z0-9_]{0,8}"
    }

    proptest! {
        /// With every referenced key present, the rendered file parses back (with the bundle's
        /// own dotenv reader) to exactly the substituted text, whatever the values contain.
        #[test]
        fn rendered_values_read_back_exactly(
            vars in proptest::collection::btree_map(var_name(), "\\PC{0,24}|[ -~\n\"'#$\\\\]{0,24}", 1..6),
            prefix in "[a-z:/]{0,6}",
        ) {
            let names: Vec<&String> = vars.keys().collect();
            let mut text = String::new();
            for (i, name) in names.iter().enumerate() {
                text.push_str(&format!("K{i}={prefix}${{{name}}}-${{{}}}\n", names[0]));
            }
            let t = Template::parse("svc", Path::new("svc.env.tpl"), &text).unwrap();
            let mut b = Bundle::new();
            for (k, v) in &vars { b.set(k.clone(), v.clone()); }
            let out = t.render(&b).unwrap();
            let back = Bundle::parse(&out.to_dotenv("h"), Path::new("x")).unwrap();
            for (i, name) in names.iter().enumerate() {
                let expected = format!("{prefix}{}-{}", vars[*name], vars[names[0]]);
                prop_assert_eq!(back.get(&format!("K{i}")), Some(expected.as_str()));
            }
        }

        /// Whatever subset of the referenced keys is missing, the error lists exactly those
        /// placeholders (every occurrence, with its line) and nothing else.
        #[test]
        fn every_unresolved_placeholder_is_listed(
            vars in proptest::collection::btree_set(var_name(), 1..8),
            present_mask in proptest::collection::vec(any::<bool>(), 8),
            value in "\\PC{0,16}",
        ) {
            let names: Vec<&String> = vars.iter().collect();
            let text: String = names.iter().map(|n| format!("{n}_OUT=a${{{n}}}b\n")).collect();
            let t = Template::parse("svc", Path::new("svc.env.tpl"), &text).unwrap();
            let mut b = Bundle::new();
            let mut expected = Vec::new();
            for (i, n) in names.iter().enumerate() {
                if present_mask[i] { b.set((*n).clone(), value.clone()); }
                else { expected.push(Unresolved { path: "svc.env.tpl".into(), line: i + 1, name: (*n).clone() }); }
            }
            match t.render(&b) {
                Ok(_) => prop_assert!(expected.is_empty()),
                Err(mut missing) => {
                    missing.sort();
                    expected.sort();
                    prop_assert_eq!(missing, expected);
                }
            }
            let all = render_all(std::slice::from_ref(&t), &b);
            if let Err(e) = all {
                let msg = e.to_string();
                let absent = names
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !present_mask[*i])
                    .map(|(_, n)| n);
                for n in absent {
                    let needle = format!("${{{n}}}");
                    prop_assert!(msg.contains(&needle), "{}", msg);
                }
            }
        }
    }
}
