//! `devenv free-ports [COUNT]`: ports for the servers scripts start beside each other, chosen
//! once, in the core ([`devenv_core::netproc::free_ports`]).

use devenv_core::exit;
use devenv_core::output::{self, Failure};

pub fn run(count: u16) -> Result<u8, Failure> {
    let ports = devenv_core::netproc::free_ports(usize::from(count), |_| true)
        .map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    for port in ports {
        output::println_redacted(&port.to_string());
    }
    Ok(exit::OK)
}
