//! NATS: connect with the bundle's user/password and flush (a PING/PONG round trip).

use std::time::Duration;

use async_nats::ConnectErrorKind;

use super::{Ctx, Problem};

#[derive(Debug)]
pub struct Target {
    pub url: String,
    pub user: String,
    pub password: String,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = async_nats::ConnectOptions::with_user_and_password(
            self.user.clone(),
            self.password.clone(),
        )
        .connection_timeout(deadline)
        .max_reconnects(Some(0))
        // Connection events are reported through the result, not as log lines.
        .event_callback(|_| async {})
        .connect(self.url.as_str())
        .await
        .map_err(|e| classify(&e, ctx, &self.user, deadline))?;
        client
            .flush()
            .await
            .map_err(|e| ctx.protocol(&format!("no PONG after connect: {e}")))?;
        let version = client.server_info().version;
        Ok(format!(
            "connected as `{}`, round trip ok (nats-server {version})",
            self.user
        ))
    }
}

fn classify(err: &async_nats::ConnectError, ctx: &Ctx, user: &str, deadline: Duration) -> Problem {
    let detail = err.to_string();
    match err.kind() {
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            ctx.auth(user, &detail)
        }
        ConnectErrorKind::TimedOut => ctx.timeout(deadline),
        ConnectErrorKind::Tls => ctx.tls(&detail),
        ConnectErrorKind::Dns => ctx.dns(&detail),
        ConnectErrorKind::ServerParse => ctx.misconfigured(&format!(
            "NATS_URL is not a valid server address ({detail}) — fix it in {} or run `make secrets-sync`",
            ctx.env_file
        )),
        ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => match super::find_io(err) {
            Some(io) => ctx.io(io, deadline),
            None if detail.to_ascii_lowercase().contains("refused") => ctx.refused(),
            None => ctx.protocol(&detail),
        },
    }
}
