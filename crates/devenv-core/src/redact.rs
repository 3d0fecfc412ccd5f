//! The redactor every output path uses: stdout, stderr (tracing), events, error chains, panics.
//!
//! Two layers:
//! - by key: a bundle key that looks secret (`is_secret_key`) is never printed with its value;
//! - by value: every secret value registered with [`register`] is replaced wherever it appears,
//!   together with its URL-encoded and base64 forms, so a secret that reached an error message
//!   through a URL, a header or a library's `Debug` output is still caught.
//!
//! URLs additionally lose their password part (`mask_url`), registered or not.

use std::sync::{OnceLock, RwLock};

use base64::Engine as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// What a redacted value is replaced with.
pub const MASK: &str = "***";

/// Shortest value that is registered. Shorter "secrets" would turn every occurrence of
/// common substrings into `***` and make output unreadable; generated credentials are 32 chars.
pub const MIN_SECRET_LEN: usize = 4;

/// True for bundle keys whose values are secret (DESIGN.md): `*PASSWORD*`, `*SECRET*`,
/// `*TOKEN*`, `*_KEY` — except `S3_ACCESS_KEY`, which is an identifier, not a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    if k == "S3_ACCESS_KEY" {
        return false;
    }
    k.contains("PASSWORD")
        || k.contains("SECRET")
        || k.contains("TOKEN")
        || k.ends_with("_KEY")
        || k == "KEY"
}

/// A set of secret values and all the encodings they are searched for in.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Needles, longest first so that a value containing another is masked whole.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value and its encoded forms.
    pub fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        for form in encodings(secret) {
            if form.len() >= MIN_SECRET_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Replaces every registered value (any encoding) and every URL password with [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = mask_urls_in_text(text);
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }
}

/// The forms a secret is searched for in: raw, percent-encoded (URL userinfo / query),
/// form-encoded, and base64 (standard and URL-safe, padded or not) as in Basic auth headers.
pub fn encodings(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let pct = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let userinfo = utf8_percent_encode(secret, USERINFO).to_string();
    let form = pct.replace("%20", "+");
    let mut forms = vec![
        secret.to_string(),
        pct,
        userinfo,
        form,
        b64.trim_end_matches('=').to_string(),
        b64,
        b64_url,
    ];
    forms.sort();
    forms.dedup();
    forms
}

/// The characters the WHATWG URL standard percent-encodes in userinfo, as `url::Url` does.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|');

/// Masks the password of one URL: `postgres://app:s3cret@host/db` → `postgres://app:***@host/db`.
/// Strings that are not URLs with a password are returned unchanged.
pub fn mask_url(url: &str) -> String {
    mask_urls_in_text(url)
}

/// Masks the password part of every `scheme://user:password@` occurrence inside free text.
fn mask_urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // userinfo ends at the last '@' before the authority ends ('/', '?', '#', whitespace, quote).
        let authority_end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn global() -> &'static RwLock<Redactor> {
    static GLOBAL: OnceLock<RwLock<Redactor>> = OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Redactor::new()))
}

/// Registers a secret with the process-wide redactor used by every output path.
pub fn register(secret: &str) {
    if let Ok(mut r) = global().write() {
        r.add(secret);
    }
}

/// Registers the values of every secret-looking key (and every URL password) of a bundle.
pub fn register_bundle<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (key, value) in pairs {
        if is_secret_key(key) {
            register(value);
        }
        if let Some(password) = url_password(value) {
            register(&password);
        }
    }
}

/// The decoded password of a URL, if it has one.
pub fn url_password(value: &str) -> Option<String> {
    let parsed = url::Url::parse(value).ok()?;
    let raw = parsed.password()?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    Some(decoded)
}

/// Redacts text with the process-wide redactor.
pub fn redact(text: &str) -> String {
    match global().read() {
        Ok(r) => r.redact(text),
        // A poisoned lock means a panic while registering; masking URLs is all that is safe.
        Err(_) => mask_urls_in_text(text),
    }
}

/// Redacts every string inside a JSON value (keys are names, never secrets; values of
/// secret-looking keys are masked whole).
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = redact(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && v.is_string() {
                    *v = serde_json::Value::String(MASK.to_string());
                } else {
                    redact_json(v);
                }
            }
        }
        _ => {}
    }
}

/// Formats an error and its whole `source()` chain, redacted: `outer: inner: root`.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    redact(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_follow_design() {
        for k in [
            "POSTGRES_PASSWORD",
            "S3_SECRET_KEY",
            "VAULT_TOKEN",
            "API_KEY",
            "db_password",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "S3_ACCESS_KEY",
            "POSTGRES_USER",
            "REDIS_URL",
            "KEYSPACE",
            "S3_BUCKET",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn masks_url_passwords_in_free_text() {
        let text = "failed to connect to postgres://app:hunter22@127.0.0.1:5432/app (refused); redis://:pw1234@h:6379/0";
        let out = mask_url(text);
        assert_eq!(
            out,
            "failed to connect to postgres://app:***@127.0.0.1:5432/app (refused); redis://:***@h:6379/0"
        );
        assert_eq!(mask_url("http://host:8000/v1"), "http://host:8000/v1");
        assert_eq!(mask_url("nats://user@host"), "nats://user@host");
    }

    #[test]
    fn masks_every_encoding_of_a_registered_secret() {
        let mut r = Redactor::new();
        let secret = "p@ss word/+=";
        r.add(secret);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let pct = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let text = format!("raw={secret} b64={b64} pct={pct}");
        let out = r.redact(&text);
        assert!(
            !out.contains(secret) && !out.contains(&b64) && !out.contains(&pct),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
    }

    #[test]
    fn short_values_are_not_registered() {
        let mut r = Redactor::new();
        r.add("ab");
        assert!(r.is_empty());
        assert_eq!(r.redact("abc"), "abc");
    }

    #[test]
    fn json_values_of_secret_keys_are_masked() {
        let mut v =
            serde_json::json!({"POSTGRES_PASSWORD": "x", "url": "redis://:abcd@h:1", "n": 1});
        redact_json(&mut v);
        assert_eq!(v["POSTGRES_PASSWORD"], MASK);
        assert_eq!(v["url"], "redis://:***@h:1");
    }

    proptest::proptest! {
        #[test]
        fn registered_secret_never_survives(secret in "[ -)+-~]{4,40}", prefix in "[ -~]{0,20}", suffix in "[ -~]{0,20}") {
            let mut r = Redactor::new();
            r.add(&secret);
            let out = r.redact(&format!("{prefix}{secret}{suffix}"));
            proptest::prop_assert!(!out.contains(&secret), "{out}");
        }
    }
}
