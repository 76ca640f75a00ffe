//! A local anvil node (Foundry) for tests and demos: started on a free loopback port,
//! stopped (killed) on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::ServiceError;

/// Anvil's first documented dev account key (public knowledge: tests only).
pub const DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its address.
pub const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Anvil's second dev account key (a second party in tests).
pub const DEV_KEY_2: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// Anvil's third dev account key.
pub const DEV_KEY_3: &str = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

/// The anvil binary: `ZKINFER_ANVIL`, else the one `scripts/setup.sh` installs under
/// `$ZKINFER_HOME` (default `~/.cache/zkinfer`), else `anvil` on PATH.
pub fn anvil_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ZKINFER_ANVIL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("ZKINFER_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache").join("zkinfer"));
    let installed = home.join("anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if installed.is_file() {
        installed
    } else {
        PathBuf::from("anvil")
    }
}

/// A running anvil.
pub struct Anvil {
    child: Child,
    pub port: u16,
}

impl Anvil {
    /// Starts anvil on a free loopback port (automining, chain id 31337, Prague rules as
    /// the in-process EVM, so gas figures compare exactly) and waits until it accepts
    /// connections.
    pub fn spawn() -> Result<Anvil, ServiceError> {
        Self::spawn_with(&[], None)
    }

    /// [`Anvil::spawn`] with extra arguments, on `port` when given.
    pub fn spawn_with(args: &[&str], port: Option<u16>) -> Result<Anvil, ServiceError> {
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let bin = anvil_binary();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--quiet", "--hardfork", "prague"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                ServiceError::Input(format!("could not start anvil ({}): {e}; run scripts/setup.sh or set ZKINFER_ANVIL", bin.display()))
            })?;
        let mut anvil = Anvil { child, port };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = anvil.child.try_wait() {
                return Err(ServiceError::Input(format!("anvil exited at start: {status}")));
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(ServiceError::Input("anvil did not start listening within 30 s".into()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(anvil)
    }

    /// The JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the node (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the anvil binary [`anvil_binary`] names can be found.
    pub fn binary_exists() -> bool {
        let b = anvil_binary();
        b.is_file() || which(&b)
    }
}

fn which(b: &Path) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(b).is_file()))
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port free right now.
pub fn free_port() -> Result<u16, ServiceError> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| ServiceError::Internal(format!("no free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| ServiceError::Internal(e.to_string()))?.port())
}
