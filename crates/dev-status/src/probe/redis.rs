//! Redis: connect, AUTH with the bundle's password, PING (redis crate).

use std::time::Duration;

use redis::ErrorKind;

use super::{Ctx, Problem};

#[derive(Debug)]
pub struct Target {
    pub info: redis::ConnectionInfo,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = redis::Client::open(self.info.clone()).map_err(|e| {
            ctx.misconfigured(&format!(
                "invalid Redis settings ({e}) — fix {} in {}",
                ctx.keys, ctx.env_file
            ))
        })?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(deadline))
            .set_response_timeout(Some(deadline));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| classify(&e, ctx, deadline))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| classify(&e, ctx, deadline))?;
        if pong != "PONG" {
            return Err(ctx.protocol(&format!("PING answered `{pong}`")));
        }
        Ok("AUTH + PING ok".to_string())
    }
}

fn classify(err: &redis::RedisError, ctx: &Ctx, deadline: Duration) -> Problem {
    let code = err.code().unwrap_or_default();
    if err.kind() == ErrorKind::AuthenticationFailed || matches!(code, "WRONGPASS" | "NOAUTH") {
        return ctx.auth("", &err.to_string());
    }
    if err.is_connection_refusal() {
        return ctx.refused();
    }
    if err.is_timeout() {
        return ctx.timeout(deadline);
    }
    if let Some(io) = super::find_io(err) {
        return ctx.io(io, deadline);
    }
    match err.kind() {
        ErrorKind::InvalidClientConfig => ctx.misconfigured(&format!(
            "invalid Redis settings ({err}) — fix {} in {}",
            ctx.keys, ctx.env_file
        )),
        ErrorKind::Io => {
            let text = super::chain_text(err);
            if super::looks_like_tls(&text) {
                ctx.tls(&err.to_string())
            } else {
                ctx.protocol(&err.to_string())
            }
        }
        _ => ctx.protocol(&err.to_string()),
    }
}
