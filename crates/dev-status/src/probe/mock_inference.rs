//! The mock inference server: `/health` answers 2xx and `/v1/models` lists the configured model.

use std::time::Duration;

use super::{Class, Ctx, Problem, http};

#[derive(Debug)]
pub struct Target {
    pub base: reqwest::Url,
    /// `MOCK_INFERENCE_MODEL`; when unset any listed model will do.
    pub model: Option<String>,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = http::client(deadline)?;
        let join = |path: &str| {
            let mut url = self.base.clone();
            let base_path = url.path().trim_end_matches('/').to_string();
            url.set_path(&format!("{base_path}{path}"));
            url
        };
        let (health, models) = tokio::join!(
            http::fetch(
                &client,
                reqwest::Method::GET,
                join("/health"),
                None,
                ctx,
                deadline
            ),
            http::fetch(
                &client,
                reqwest::Method::GET,
                join("/v1/models"),
                None,
                ctx,
                deadline
            ),
        );
        let (status, _) = health?;
        if !(200..300).contains(&status) {
            return Err(http::unexpected_status(ctx, status, None));
        }
        let (status, body) = models?;
        if !(200..300).contains(&status) {
            return Err(http::unexpected_status(ctx, status, None));
        }
        let listed = model_ids(&body).ok_or_else(|| {
            ctx.protocol("/v1/models is not an OpenAI model list (`{\"data\": [{\"id\": …}]}`)")
        })?;
        let served = match listed.as_slice() {
            [] => "nothing".to_string(),
            ids => ids.join(", "),
        };
        match &self.model {
            Some(model) if !listed.iter().any(|id| id == model) => Err(Problem::new(
                Class::Misconfigured,
                format!(
                    "model `{model}` is not served at {} (it lists: {served}) — fix MOCK_INFERENCE_MODEL in {} or the server's model list",
                    ctx.addr(),
                    ctx.env_file
                ),
            )),
            Some(model) => Ok(format!("/health ok, model `{model}` listed")),
            None if listed.is_empty() => Err(ctx.protocol("/v1/models lists no model")),
            None => Ok(format!("/health ok, {} model(s) listed", listed.len())),
        }
    }
}

/// The `id`s of an OpenAI `/v1/models` answer.
pub fn model_ids(body: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let data = value.get("data")?.as_array()?;
    Some(
        data.iter()
            .filter_map(|m| m.get("id").and_then(|id| id.as_str()).map(str::to_string))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_model_lists() {
        let body =
            r#"{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"},{"id":"mock-1"}]}"#;
        assert_eq!(
            model_ids(body),
            Some(vec!["gpt-4o-mini".into(), "mock-1".into()])
        );
        assert_eq!(model_ids(r#"{"models":[]}"#), None);
        assert_eq!(model_ids("<html>"), None);
    }
}
