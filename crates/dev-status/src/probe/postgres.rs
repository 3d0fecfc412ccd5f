//! PostgreSQL: log in with the bundle's credentials and run `SELECT 1` (sqlx).

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _};

use super::{Class, Ctx, Problem};

#[derive(Debug)]
pub struct Target {
    pub options: PgConnectOptions,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        if !ctx.host.starts_with('/') {
            ctx.resolve().await?;
        }
        let user = self.options.get_username().to_string();
        let mut conn = self
            .options
            .connect()
            .await
            .map_err(|e| classify(&e, ctx, &user, deadline))?;
        conn.execute(sqlx::raw_sql("SELECT 1"))
            .await
            .map_err(|e| classify(&e, ctx, &user, deadline))?;
        let version = conn.server_version_num().map(|v| v / 10000);
        // Terminate politely so the server log stays free of "unexpected EOF" noise.
        let _ = conn.close().await;
        Ok(match version {
            Some(v) => format!("logged in as `{user}`, SELECT 1 ok (PostgreSQL {v})"),
            None => format!("logged in as `{user}`, SELECT 1 ok"),
        })
    }
}

fn classify(err: &sqlx::Error, ctx: &Ctx, user: &str, deadline: Duration) -> Problem {
    match err {
        sqlx::Error::Io(io) => ctx.io(io, deadline),
        sqlx::Error::Tls(e) => ctx.tls(&e.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                // invalid_password, invalid_authorization_specification
                "28P01" | "28000" => ctx.auth(user, db.message()),
                // invalid_catalog_name: the database in the bundle does not exist.
                "3D000" => Problem::new(
                    Class::Misconfigured,
                    format!(
                        "{} — create it (`make up` does) or fix POSTGRES_DB/DATABASE_URL in {}",
                        db.message(),
                        ctx.env_file
                    ),
                ),
                // cannot_connect_now (starting up / shutting down), too_many_connections
                "57P03" | "53300" => Problem::new(
                    Class::Refused,
                    format!(
                        "{} is not accepting connections yet ({}) — wait with `dev-status --wait --timeout 60`",
                        ctx.addr(),
                        db.message()
                    ),
                ),
                _ => ctx.protocol(&format!("{code} {}", db.message())),
            }
        }
        sqlx::Error::Configuration(e) => ctx.misconfigured(&format!(
            "invalid PostgreSQL settings ({e}) — fix {} in {}",
            ctx.keys, ctx.env_file
        )),
        other => {
            let text = super::chain_text(other);
            if text.contains("tls") || text.contains("ssl") {
                ctx.tls(&other.to_string())
            } else if let Some(io) = super::find_io(other) {
                ctx.io(io, deadline)
            } else {
                ctx.protocol(&other.to_string())
            }
        }
    }
}
