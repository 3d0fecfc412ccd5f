//! Inputs of the seed files, passed as session settings the SQL reads with `current_setting`:
//! the mock inference model, the admin e-mail and the admin's argon2id password hash. The
//! password is generated here, only when a pending seed needs it, and shown exactly once.

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use sqlx::postgres::PgConnection;

use crate::error::{MigrateError, db};
use crate::files::MigrationFile;

pub const MODEL_SETTING: &str = "devenv.mock_inference_model";
pub const ADMIN_EMAIL_SETTING: &str = "devenv.admin_email";
pub const ADMIN_HASH_SETTING: &str = "devenv.admin_password_hash";

/// Length of the generated admin password (alphanumeric, ≈ 143 bits).
pub const ADMIN_PASSWORD_LEN: usize = 24;

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: String,
    pub admin_email: String,
    /// The 0600 dotenv file a generated password goes to.
    pub credentials_file: PathBuf,
}

/// The file name under `.devenv/` and the keys of the admin credential.
pub const CREDENTIALS_FILE: &str = "admin-credentials.env";
pub const EMAIL_KEY: &str = "DEVENV_ADMIN_EMAIL";
pub const PASSWORD_KEY: &str = "DEVENV_ADMIN_PASSWORD";

/// A generated admin credential. The password is registered with the redactor at once, so
/// only the deliberate one-time display can show it.
pub struct Generated {
    pub email: String,
    password: String,
    pub credentials_file: PathBuf,
    hash: String,
}

/// A credential written next to its final place (`<file>.pending`) before the seeds run.
pub struct Staged {
    pending: PathBuf,
    target: PathBuf,
}

impl Generated {
    /// Writes the credential, 0600, to `<target>.pending`: it survives a crash between the
    /// seeds' commit and [`Staged::finish`], and never overwrites a credential already kept.
    pub fn stage(&self, target: &Path) -> Result<Staged, MigrateError> {
        let mut pending = target.as_os_str().to_owned();
        pending.push(".pending");
        let pending = PathBuf::from(pending);
        if let Some(dir) = pending.parent() {
            std::fs::create_dir_all(dir).map_err(|e| MigrateError::Io {
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let text = format!(
            "# The seeded system admin of this workspace (written by migrate-ledger seed).\n{EMAIL_KEY}='{}'\n{PASSWORD_KEY}='{}'\n",
            self.email.replace('\'', "'\\''"),
            self.password
        );
        devenv_core::bundle::write_atomic(&pending, text.as_bytes(), 0o600).map_err(|e| {
            MigrateError::Io {
                message: format!(
                    "cannot keep the admin credential in {}: {e}",
                    pending.display()
                ),
            }
        })?;
        Ok(Staged {
            pending,
            target: target.to_path_buf(),
        })
    }
}

impl Staged {
    /// Moves the credential into place when the seeds stored it; else removes it.
    pub fn finish(self, stored: bool) -> Result<(), MigrateError> {
        let result = if stored {
            std::fs::rename(&self.pending, &self.target)
        } else {
            std::fs::remove_file(&self.pending)
        };
        result.map_err(|e| MigrateError::Io {
            message: format!(
                "cannot move the admin credential from {} to {}: {e} — the password is in the first file",
                self.pending.display(),
                self.target.display()
            ),
        })
    }
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// argon2id (the crate's defaults: 19 MiB, 2 passes) in PHC string form.
pub fn hash_password(password: &str) -> Result<String, MigrateError> {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| MigrateError::Io {
            message: format!("cannot encode a password salt: {e}"),
        })?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| MigrateError::Io {
            message: format!("cannot hash the admin password: {e}"),
        })
}

/// Sets the session settings the pending seeds read; generates the admin password if one of
/// them uses the hash.
pub async fn prepare(
    conn: &mut PgConnection,
    pending: &[&MigrationFile],
    settings: &Settings,
) -> Result<Option<Generated>, MigrateError> {
    let generated = if pending.iter().any(|f| f.sql.contains(ADMIN_HASH_SETTING)) {
        let password = devenv_core::credentials::generate(ADMIN_PASSWORD_LEN);
        devenv_core::redact::register(&password);
        let hash = hash_password(&password)?;
        Some(Generated {
            email: settings.admin_email.clone(),
            password,
            credentials_file: settings.credentials_file.clone(),
            hash,
        })
    } else {
        None
    };
    sqlx::query(
        "SELECT set_config($1, $2, false), set_config($3, $4, false), set_config($5, $6, false)",
    )
    .bind(MODEL_SETTING)
    .bind(&settings.model)
    .bind(ADMIN_EMAIL_SETTING)
    .bind(&settings.admin_email)
    .bind(ADMIN_HASH_SETTING)
    .bind(generated.as_ref().map_or("", |g| g.hash.as_str()))
    .execute(&mut *conn)
    .await
    .map_err(db("pass the seed settings"))?;
    Ok(generated)
}

/// The credential to show, if the admin user now holds exactly our hash (a seed that found an
/// existing admin leaves it alone, and then there is nothing new to show).
pub async fn confirm(
    conn: &mut PgConnection,
    generated: Option<Generated>,
) -> Result<Option<Generated>, MigrateError> {
    let Some(g) = generated else { return Ok(None) };
    let stored: bool = sqlx::query_scalar("SELECT to_regclass('users') IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE password_hash = $1)")
        .bind(&g.hash)
        .fetch_one(&mut *conn)
        .await
        .map_err(db("check the seeded admin user"))?;
    // The hash only ever lived in this session; clear it before the connection is reused.
    sqlx::raw_sql(&format!("RESET {ADMIN_HASH_SETTING}"))
        .execute(&mut *conn)
        .await
        .map_err(db("clear the seed settings"))?;
    Ok(stored.then_some(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier as _};

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        let parsed = PasswordHash::new(&a).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            argon2::Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }
}
