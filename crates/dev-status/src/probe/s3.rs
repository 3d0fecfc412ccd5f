//! S3: HeadBucket on `S3_BUCKET` with the bundle's static keys (aws-sdk-s3, path-style).

use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_smithy_http_client::tls;

use super::{Class, Ctx, Problem};

#[derive(Debug)]
pub struct Target {
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

impl Target {
    fn client(&self, deadline: Duration) -> aws_sdk_s3::Client {
        let http = if self.endpoint.starts_with("https://") {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        } else {
            aws_smithy_http_client::Builder::new().build_http()
        };
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "devenv-bundle",
            ))
            .force_path_style(true)
            .http_client(http)
            // One attempt: the runner's deadline is the budget, a retry would only hide the cause.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(deadline)
                    .operation_timeout(deadline)
                    .build(),
            )
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Creates the bucket unless it exists: Ok(true) when this call created it.
    pub async fn ensure(&self, ctx: &Ctx, deadline: Duration) -> Result<bool, Problem> {
        ctx.resolve().await?;
        let client = self.client(deadline);
        match client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(false),
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {}
            Err(err) => return Err(self.classify(&err, ctx, deadline)),
        }
        match client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(true),
            // Created by a concurrent run between the two calls: it exists, which is the goal.
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 409 => Ok(false),
            Err(SdkError::ServiceError(e)) => {
                let status = e.raw().status().as_u16();
                Err(match status {
                    401 | 403 => ctx.auth(&self.access_key, &format!("HTTP {status}")),
                    _ => ctx.protocol(&format!(
                        "CreateBucket `{}` answered HTTP {status}",
                        self.bucket
                    )),
                })
            }
            Err(err) => Err(ctx.protocol(&super::chain_text(&err))),
        }
    }

    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = self.client(deadline);
        match client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(format!(
                "bucket `{}` reachable (HeadBucket ok)",
                self.bucket
            )),
            Err(err) => Err(self.classify(&err, ctx, deadline)),
        }
    }

    fn classify(
        &self,
        err: &SdkError<HeadBucketError, HttpResponse>,
        ctx: &Ctx,
        deadline: Duration,
    ) -> Problem {
        match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                match status {
                    401 | 403 => ctx.auth(&self.access_key, &format!("HTTP {status}")),
                    404 => Problem::new(
                        Class::Misconfigured,
                        format!(
                            "bucket `{}` does not exist at {} — `make up` creates it; or fix S3_BUCKET in {}",
                            self.bucket, self.endpoint, ctx.env_file
                        ),
                    ),
                    301 | 400 => Problem::new(
                        Class::Misconfigured,
                        format!(
                            "the server refused the request for bucket `{}` (HTTP {}) — check S3_REGION and S3_BUCKET in {}",
                            self.bucket, status, ctx.env_file
                        ),
                    ),
                    code => ctx.protocol(&format!("HeadBucket answered HTTP {code}")),
                }
            }
            SdkError::TimeoutError(_) => ctx.timeout(deadline),
            SdkError::DispatchFailure(failure) => {
                let text = super::chain_text(err);
                if failure.is_timeout() {
                    ctx.timeout(deadline)
                } else if let Some(io) = super::find_io(err) {
                    if super::looks_like_tls(&text) {
                        ctx.tls(&text)
                    } else {
                        ctx.io(io, deadline)
                    }
                } else if super::looks_like_tls(&text) {
                    ctx.tls(&text)
                } else if text.contains("dns") {
                    ctx.dns(&text)
                } else if text.contains("refused") {
                    ctx.refused()
                } else {
                    ctx.protocol(&text)
                }
            }
            SdkError::ResponseError(_) => ctx.protocol(&super::chain_text(err)),
            SdkError::ConstructionFailure(_) => ctx.misconfigured(&format!(
                "cannot build the S3 request ({}) — fix {} in {}",
                super::chain_text(err),
                ctx.keys,
                ctx.env_file
            )),
            _ => ctx.protocol(&super::chain_text(err)),
        }
    }
}
