//! HTTP checks from the config file (URL, method, expected status, body pattern, timeout),
//! and the HTTP plumbing the mock-inference and RabbitMQ management checks share.

use std::time::Duration;

use super::{Class, Ctx, Problem};

#[derive(Debug)]
pub struct Target {
    pub url: reqwest::Url,
    pub method: reqwest::Method,
    /// `None`: any 2xx.
    pub expect_status: Option<u16>,
    pub body_pattern: Option<regex::Regex>,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = client(deadline)?;
        let (status, body) = fetch(
            &client,
            self.method.clone(),
            self.url.clone(),
            None,
            ctx,
            deadline,
        )
        .await?;
        let status_ok = match self.expect_status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        };
        if !status_ok {
            return Err(unexpected_status(ctx, status, self.expect_status));
        }
        if let Some(pattern) = &self.body_pattern {
            if !pattern.is_match(&body) {
                return Err(ctx.protocol(&format!(
                    "HTTP {status}, but the body does not match /{pattern}/"
                )));
            }
        }
        Ok(format!(
            "{} {} → {status}",
            self.method,
            devenv_core::redact::mask_url(self.url.as_str())
        ))
    }
}

/// A client for one check: no proxies (the stack is local), the check's deadline.
pub fn client(deadline: Duration) -> Result<reqwest::Client, Problem> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(deadline)
        .connect_timeout(deadline)
        .build()
        .map_err(|e| {
            Problem::new(
                Class::Misconfigured,
                format!("cannot build an HTTP client: {e}"),
            )
        })
}

/// Sends one request and reads the whole body.
pub async fn fetch(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    basic_auth: Option<(&str, &str)>,
    ctx: &Ctx,
    deadline: Duration,
) -> Result<(u16, String), Problem> {
    let mut request = client.request(method, url);
    if let Some((user, password)) = basic_auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request
        .send()
        .await
        .map_err(|e| classify(&e, ctx, deadline))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| classify(&e, ctx, deadline))?;
    Ok((status, body))
}

/// A status that is not the expected one: 401/403 mean the credentials, anything else the server.
pub fn unexpected_status(ctx: &Ctx, status: u16, expected: Option<u16>) -> Problem {
    let want = expected.map_or("2xx".to_string(), |s| s.to_string());
    match status {
        401 | 403 => ctx.auth("", &format!("HTTP {status}, expected {want}")),
        _ => Problem::new(
            Class::Protocol,
            format!(
                "{} answered HTTP {status}, expected {want} — see `make logs SERVICE={}`",
                ctx.addr(),
                ctx.service
            ),
        ),
    }
}

/// Sorts a reqwest error into a class.
pub fn classify(err: &reqwest::Error, ctx: &Ctx, deadline: Duration) -> Problem {
    let text = super::chain_text(err);
    if err.is_timeout() {
        return ctx.timeout(deadline);
    }
    if err.is_builder() {
        return ctx.misconfigured(&format!(
            "invalid URL for {} ({text}) — fix {} in {}",
            ctx.component, ctx.keys, ctx.env_file
        ));
    }
    if text.contains("dns error") {
        return ctx.dns(&text);
    }
    if let Some(io) = super::find_io(err) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return ctx.refused();
        }
        if io.kind() == std::io::ErrorKind::TimedOut {
            return ctx.timeout(deadline);
        }
    }
    if super::looks_like_tls(&text) {
        return ctx.tls(&text);
    }
    if let Some(io) = super::find_io(err) {
        return ctx.io(io, deadline);
    }
    ctx.protocol(&text)
}
