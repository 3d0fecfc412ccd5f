//! One module per subcommand; each returns the exit code of a completed check or an
//! [`Error`] (converted to an exit code once, in `run`). The sides are built here.

pub mod diff;
pub mod history;
pub mod images;
pub mod validate;

use std::path::PathBuf;

use devenv_core::paths::Workspace;

use crate::cli::{EnvArgs, SideArgs};
use crate::error::{Error, Result};
use crate::load::Side;

/// A side from `-f`/`-F` files when given, else from the next positional path.
fn side_from(
    flags: SideArgs,
    positional: &mut std::vec::IntoIter<PathBuf>,
    label: &str,
) -> Result<Side> {
    let mut side = if flags.files.is_empty() {
        let path = positional.next().ok_or_else(|| {
            Error::Usage(format!(
                "no {label} environment given; pass a compose file / EnvironmentConfiguration, or -f/-F FILE"
            ))
        })?;
        Side::from_path(&path)?
    } else {
        Side::compose(flags.files, Vec::new())
    };
    side.env_files.extend(flags.env_files);
    if !flags.profiles.is_empty() {
        side.profiles = flags.profiles;
    }
    side.inherit_env = flags.inherit_env;
    Ok(side)
}

/// `<workspace>/reports/config-diffs`: where `--save` keeps reports and `history` reads them.
fn default_reports_dir() -> PathBuf {
    Workspace::discover().root.join(crate::archive::DEFAULT_DIR)
}

/// The one environment of `validate` / `images` (`images` defaults to the workspace's compose file).
fn env_side(args: EnvArgs, default_compose: bool) -> Result<Side> {
    let mut positional = args.path.map(|p| vec![p]).unwrap_or_default();
    if positional.is_empty() && args.side.files.is_empty() && default_compose {
        let root = Workspace::discover().root;
        positional.push(root.join("dev/compose.local.yaml"));
    }
    side_from(args.side, &mut positional.into_iter(), "")
}
