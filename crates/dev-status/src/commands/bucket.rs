//! `dev-status bucket`: the bundle's S3_BUCKET exists afterwards (created through the S3 API
//! itself, so MinIO and s3s-fs alike). A server still starting (refused, timeout) is retried
//! until --timeout; any other failure ends the command with its class and remedy.

use std::time::{Duration, Instant};

use devenv_core::exit;
use devenv_core::output::Format;
use devenv_core::paths::Workspace;

use super::event;
use super::status::{health_config, positive_seconds};
use crate::cli::CheckArgs;
use crate::config::{Inputs, Selection};
use crate::error::Error;
use crate::output;
use crate::probe::{Class, Plan, Target};

/// How long one attempt may take, and the pause between attempts on a starting server.
const ATTEMPT: Duration = Duration::from_secs(2);
const PAUSE: Duration = Duration::from_millis(50);

pub async fn run(args: &CheckArgs, format: Format) -> Result<u8, Error> {
    let ws = Workspace::discover();
    positive_seconds("timeout", args.timeout)?;
    let mode = args.mode().map_err(Error::Usage)?;
    let env_file = args
        .env_file
        .clone()
        .unwrap_or_else(|| ws.bundle_path(mode));
    let inputs = Inputs::load(env_file.clone(), health_config(args, &ws))?;
    let selection = Selection {
        only: vec!["s3".to_string()],
        ..Selection::default()
    };
    let components = inputs.components(&selection)?;
    let s3 = components
        .iter()
        .find(|c| c.name == "s3")
        .ok_or_else(|| Error::Usage(format!("{} describes no S3 store", env_file.display())))?;
    let target = match &s3.plan {
        Plan::Probe(target) => match target.as_ref() {
            Target::S3(t) => t,
            _ => unreachable!("the s3 component probes S3"),
        },
        Plan::Skipped(why) | Plan::Misconfigured(why) => return Err(Error::Usage(why.clone())),
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    loop {
        match target.ensure(&s3.ctx, ATTEMPT).await {
            Ok(created) => {
                output::bucket(&target.bucket, created, format);
                event(&ws, "bucket_ready", |e| {
                    e.field("bucket", target.bucket.clone())
                        .field("created", created)
                });
                return Ok(exit::OK);
            }
            Err(p)
                if matches!(p.class, Class::Refused | Class::Timeout)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(PAUSE).await;
            }
            Err(p) if matches!(p.class, Class::Refused | Class::Timeout) => {
                return Err(Error::Timeout(format!(
                    "S3 did not answer within {} s: {} — see .devenv/logs/s3.log (`make logs SERVICE=s3`)",
                    args.timeout, p.message
                )));
            }
            Err(p) => return Err(Error::External(p.message)),
        }
    }
}
