//! Expiry of remote bundles: `secrets-sync --mode remote` writes `DEVENV_EXPIRES_AT` (RFC 3339,
//! 24 h ahead) because remote credentials are leased and rotate. Every consumer of a bundle
//! (dev-status, migrate-ledger, scripts through `secrets-sync check-expiry`) calls
//! [`warn_if_expired`] after reading it, so a stale bundle is named before it causes a
//! confusing authentication failure.

use chrono::{DateTime, Duration, Utc};

use crate::bundle::Bundle;

/// The bundle key holding the expiry instant.
pub const EXPIRES_AT_KEY: &str = "DEVENV_EXPIRES_AT";

/// How long a remote bundle is valid after it is written.
pub const REMOTE_TTL: Duration = Duration::hours(24);

/// The state of a bundle's expiry at a given instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// No `DEVENV_EXPIRES_AT` (local bundles never expire).
    Never,
    Valid {
        expires_at: DateTime<Utc>,
        remaining: Duration,
    },
    Expired {
        expires_at: DateTime<Utc>,
        ago: Duration,
    },
    /// The key is present but is not an RFC 3339 instant: treated as expired by callers.
    Unreadable(String),
}

impl Expiry {
    pub fn is_expired(&self) -> bool {
        matches!(self, Expiry::Expired { .. } | Expiry::Unreadable(_))
    }
}

/// The `DEVENV_EXPIRES_AT` value for a bundle written at `now`.
pub fn expires_at(now: DateTime<Utc>) -> String {
    (now + REMOTE_TTL).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Checks a bundle's expiry against `now`.
pub fn check(bundle: &Bundle, now: DateTime<Utc>) -> Expiry {
    let Some(raw) = bundle.get(EXPIRES_AT_KEY) else {
        return Expiry::Never;
    };
    match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(t) => {
            let expires_at = t.with_timezone(&Utc);
            if expires_at <= now {
                Expiry::Expired {
                    expires_at,
                    ago: now - expires_at,
                }
            } else {
                Expiry::Valid {
                    expires_at,
                    remaining: expires_at - now,
                }
            }
        }
        Err(_) => Expiry::Unreadable(raw.to_string()),
    }
}

/// The warning for an expired bundle at `path`, or None while it is valid.
pub fn expiry_warning(
    bundle: &Bundle,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> Option<String> {
    match check(bundle, now) {
        Expiry::Never | Expiry::Valid { .. } => None,
        Expiry::Expired { expires_at, ago } => Some(format!(
            "{} expired {} ago (at {}) — its credentials may be rotated; refresh it with `make secrets-sync MODE=remote`",
            path.display(),
            human_duration(ago),
            expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        Expiry::Unreadable(raw) => Some(format!(
            "{}: {EXPIRES_AT_KEY}=`{raw}` is not an RFC 3339 time, so the bundle counts as expired — refresh it with `make secrets-sync MODE=remote`",
            path.display()
        )),
    }
}

/// Prints `warning: …` on stderr (through the redactor) when the bundle is expired; returns
/// whether it was. This is the call every consumer makes after reading a bundle.
pub fn warn_if_expired(bundle: &Bundle, path: &std::path::Path) -> bool {
    match expiry_warning(bundle, path, Utc::now()) {
        Some(text) => {
            let style = crate::output::Style::stderr();
            crate::output::eprintln_redacted(&format!("{} {text}", style.yellow("warning:")));
            true
        }
        None => false,
    }
}

fn human_duration(d: Duration) -> String {
    let minutes = d.num_minutes();
    if minutes < 60 {
        format!("{}m", minutes.max(0))
    } else if minutes < 48 * 60 {
        format!("{}h{:02}m", minutes / 60, minutes % 60)
    } else {
        format!("{}d", minutes / (24 * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn classifies_expiry() {
        let now = Utc::now();
        let mut b = Bundle::new();
        assert_eq!(check(&b, now), Expiry::Never);
        b.set(EXPIRES_AT_KEY, expires_at(now));
        assert!(matches!(check(&b, now), Expiry::Valid { .. }));
        assert!(expiry_warning(&b, Path::new(".env.linode"), now).is_none());
        let later = now + Duration::hours(25);
        assert!(check(&b, later).is_expired());
        let w = expiry_warning(&b, Path::new(".env.linode"), later).unwrap();
        assert!(w.contains(".env.linode expired 1h"), "{w}");
        b.set(EXPIRES_AT_KEY, "tomorrow");
        assert!(check(&b, now).is_expired());
    }
}
