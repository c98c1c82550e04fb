//! Free loopback ports for the processes this crate starts.
//!
//! A port is found by binding `127.0.0.1:0` and letting the kernel choose; the listener is
//! closed before the process that will use the port starts, so another process could in
//! principle take it in between. Callers detect that (the process fails to bind and exits)
//! and retry with fresh ports. Within one test process no port is handed out twice, which
//! removes the common case of two control planes in one binary racing for the same port.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow};

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback TCP port that was free a moment ago and has not been returned before by this
/// process.
pub fn free_port() -> Result<u16> {
    for _ in 0..64 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding 127.0.0.1:0 to find a free port")?;
        let port = listener
            .local_addr()
            .context("reading the address of a bound listener")?
            .port();
        let mut handed_out = HANDED_OUT
            .lock()
            .map_err(|_| anyhow!("the port registry is poisoned"))?;
        if handed_out.get_or_insert_with(HashSet::new).insert(port) {
            return Ok(port);
        }
    }
    Err(anyhow!("no unused loopback port found after 64 tries"))
}
