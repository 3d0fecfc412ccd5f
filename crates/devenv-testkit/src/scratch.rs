//! Throwaway workspaces: a temp dir with the files a binary looks for, `configs/ports.yaml`
//! listing every port of the one list ([`PortName::ALL`]) on a port free now.

use std::path::Path;

use devenv_core::stack::PortName;

/// A workspace root in a temp dir (0755: PostgreSQL run as `postgres` under root must enter it),
/// with `configs/ports.yaml` on free ports and a `.gitignore` that ignores the bundles.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("devenv-testkit-ws-")
        .tempdir()
        .expect("create a temp workspace");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the workspace");
    write_ports(dir.path());
    std::fs::write(dir.path().join(".gitignore"), "/.devenv/\n.env.*\n").expect("write .gitignore");
    dir
}

/// `configs/ports.yaml` under `root`, every port name on a port free now.
pub fn write_ports(root: &Path) {
    let configs = root.join("configs");
    std::fs::create_dir_all(&configs).expect("create configs/");
    let text: String = PortName::ALL
        .iter()
        .map(|name| format!("{}: {}\n", name.key(), crate::free_port()))
        .collect();
    std::fs::write(configs.join("ports.yaml"), text).expect("write configs/ports.yaml");
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_file_names_every_port_once() {
        let ws = super::workspace();
        let text = std::fs::read_to_string(ws.path().join("configs/ports.yaml")).unwrap();
        let defaults =
            devenv_core::stack::PortDefaults::load(&ws.path().join("configs/ports.yaml")).unwrap();
        assert_eq!(
            text.lines().count(),
            devenv_core::stack::PortName::ALL.len()
        );
        drop(defaults);
    }
}
