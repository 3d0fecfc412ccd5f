//! `render`: fills configs/dev/<service>.env.tpl from the bundle into .devenv/config/.

use std::path::PathBuf;

use devenv_core::bundle::{self, Bundle};
use devenv_core::events::Event;
use devenv_core::output::Format;
use devenv_core::paths::{Mode, Workspace};
use devenv_core::{bundle_expiry, exit, ids};

use crate::cli::RenderArgs;
use crate::error::SyncError;
use crate::output::{self, Rendered, RenderedConfig};
use crate::{SOURCE, portable, render as templates};

pub(crate) fn run(args: &RenderArgs, format: Format) -> Result<u8, SyncError> {
    let ws = Workspace::discover();
    let bundle_path = args.source.path(&ws, Mode::Local)?;
    let bundle = Bundle::read_optional(&bundle_path)?.ok_or_else(|| {
        SyncError::Usage(format!(
            "{} does not exist — run `make secrets-sync` first",
            bundle_path.display()
        ))
    })?;
    bundle.register_secrets();
    bundle_expiry::warn_if_expired(&bundle, &bundle_path);
    let templates_dir = args
        .templates
        .clone()
        .unwrap_or_else(|| ws.root.join("configs/dev"));
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| ws.state_dir().join("config"));
    let templates = templates::load_templates(&templates_dir, &args.services)?;
    let rendered = templates::render_all(&templates, &bundle)?;
    for (_, values) in &rendered {
        portable::check(values)?;
    }
    // Check every destination before writing any, so a refusal leaves nothing half-rendered.
    let targets: Vec<PathBuf> = rendered
        .iter()
        .map(|(service, _)| out_dir.join(format!("{service}.env")))
        .collect();
    for t in &targets {
        bundle::ensure_git_ignored(t)?;
    }
    let bundle_name = bundle_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ((service, values), target) in rendered.iter().zip(&targets) {
        values.register_secrets();
        let header = format!(
            "{service} config rendered by `secrets-sync render` from configs/dev/{service}.env.tpl and {bundle_name}.\nDo not edit: change the template and rerun `make secrets-sync`."
        );
        values.write(target, &header)?;
    }
    Event::new(SOURCE, "configs_rendered")
        .field("audit_id", ids::correlation_id())
        .field(
            "services",
            rendered.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        )
        .append_to(&ws.events_file());
    let report = Rendered {
        bundle: bundle_path.display().to_string(),
        rendered: rendered
            .iter()
            .zip(targets)
            .map(|((service, values), path)| RenderedConfig {
                service: service.clone(),
                path: path.display().to_string(),
                keys: values.keys().map(String::from).collect(),
            })
            .collect(),
    };
    output::print(format, &report);
    Ok(exit::OK)
}
