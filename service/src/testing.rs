//! TEST SUPPORT (not part of the service): a throwaway PostgreSQL cluster for the job
//! store tests, one per test process.
//!
//! The cluster runs Debian's `postgresql` binaries (`scripts/test.sh` installs the
//! package) as an unprivileged user (`postgres` when the tests run as root, through
//! `runuser`), in a fresh temporary folder, on a free loopback port, with password
//! authentication over TCP. A watchdog process stops the cluster and removes its folder
//! once the test process has exited, however it exits. Each test takes a database of
//! its own ([`PgCluster::database`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The role and password of the test cluster.
pub const USER: &str = "zkinfer";
pub const PASSWORD: &str = "zkinfer-test-password";

/// A running throwaway cluster.
pub struct PgCluster {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    next_db: AtomicU32,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();

/// The test process's cluster, started on first use.
pub fn cluster() -> &'static PgCluster {
    match CLUSTER.get_or_init(PgCluster::start) {
        Ok(c) => c,
        Err(e) => panic!("cannot start the test PostgreSQL cluster: {e}"),
    }
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort();
    if let Some(p) = versions.pop() {
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .ok_or_else(|| "PostgreSQL's initdb and pg_ctl are not installed (scripts/test.sh installs Debian's `postgresql`)".to_string())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

impl PgCluster {
    /// A cluster of its own (for a test that restarts it), stopped like the shared one.
    pub fn new_cluster() -> PgCluster {
        PgCluster::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL cluster: {e}"))
    }

    fn start() -> Result<PgCluster, String> {
        let bin = bin_dir()?;
        let run_as = is_root().then(|| "postgres".to_string());
        let dir = std::env::temp_dir().join(format!("zkinfer-pg-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).map_err(|e| e.to_string())?;
        if let Some(user) = &run_as {
            let ok = Command::new("chown").args(["-R", user]).arg(&dir).status().map(|s| s.success()).unwrap_or(false);
            if !ok {
                return Err(format!(
                    "cannot give {} to the `{user}` user (does it exist? the postgresql package creates it)",
                    dir.display()
                ));
            }
        }
        let c = PgCluster { port: free_port(), dir: dir.clone(), bin, run_as, next_db: AtomicU32::new(0) };
        c.watchdog();
        let data = dir.join("data");
        c.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                USER,
                &format!("--pwfile={}", pwfile.display()),
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        c.pg_ctl_start()?;
        Ok(c)
    }

    /// A command of the cluster's binaries, as the cluster's user.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let out = self.command(tool).args(args).stdin(Stdio::null()).output().map_err(|e| format!("{tool}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{tool} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        let (data, log) = (self.dir.join("data").display().to_string(), self.dir.join("log").display().to_string());
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &opts, "start"])
    }

    /// Stops the cluster (immediately, as a crash would) and starts it again on the same port.
    pub fn restart(&self) {
        let data = self.dir.join("data").display().to_string();
        self.run("pg_ctl", &["-D", &data, "-w", "-t", "60", "-m", "immediate", "stop"]).expect("the test cluster stops");
        self.pg_ctl_start().expect("the test cluster starts again");
    }

    /// Stops the cluster and removes its folder once this process has exited.
    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let prefix = self.run_as.as_ref().map(|u| format!("runuser -u {u} -- ")).unwrap_or_default();
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {prefix}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    }

    /// The URL of database `db` with the test role's credentials.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.next_db.fetch_add(1, Ordering::SeqCst));
        let admin = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        // The synchronous client runs its own runtime: keep it off any async context.
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("the test cluster accepts connections");
            c.batch_execute(&sql).expect("CREATE DATABASE");
        })
        .join()
        .expect("creating a test database");
        self.url(&name)
    }

    /// The folder of the cluster's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }
}

/// Waits until `f` is true, polling every 50 ms, at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A local S3-compatible server (PyPI's `moto[server]`, installed by `scripts/test.sh`
/// under `$ZKINFER_HOME/moto`), standing in for a cloud bucket; one per test process,
/// stopped by a watchdog once the process has exited.
pub struct S3Server {
    pub port: u16,
}

static S3: OnceLock<Result<S3Server, String>> = OnceLock::new();

/// The test process's S3 server, started on first use.
pub fn s3() -> &'static S3Server {
    match S3.get_or_init(S3Server::start) {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test S3 server: {e}"),
    }
}

impl S3Server {
    fn start() -> Result<S3Server, String> {
        let home = std::env::var_os("ZKINFER_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/zkinfer"));
        let python = home.join("moto/bin/python");
        if !python.exists() {
            return Err(format!("{} is missing: scripts/test.sh installs moto[server]", python.display()));
        }
        let port = free_port();
        let child = Command::new(&python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        let script = format!("while kill -0 {} 2>/dev/null; do sleep 1; done; kill {} 2>/dev/null", std::process::id(), child.id());
        let _ = Command::new("sh").args(["-c", &script]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        let up = wait_until(Duration::from_secs(60), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        if !up {
            return Err(format!("moto did not listen on 127.0.0.1:{port} within a minute"));
        }
        Ok(S3Server { port })
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `AWS_*` variables that point a client at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Creates a bucket (a plain unsigned `PUT /BUCKET`, which moto accepts).
    pub fn create_bucket(&self, bucket: &str) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("the S3 server accepts connections");
        write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "creating bucket {bucket}: {answer}");
    }
}
