//! moto server, the AWS emulator, as a child process on loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::http::{self, HttpClient};
use crate::StackError;

/// `python -m moto.server` with the costs that add up over the tests' calls taken out (see
/// the script's comments); moto's answers are unchanged.
const LAUNCHER: &str = include_str!("moto/launcher.py");

/// How many ports moto is tried on before the stack gives up.
const START_ATTEMPTS: u32 = 4;

/// A running moto server; stopped when dropped.
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// The Python that has moto installed: `LIFEBOAT_PYTHON`, else the bootstrap's virtualenv.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("LIFEBOAT_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("LIFEBOAT_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lifeboat")))
        .unwrap_or_else(|| PathBuf::from(".cache/lifeboat"));
    home.join("venv/bin/python")
}

impl MotoServer {
    /// Starts moto on a free loopback port, with its own Lambda calls (from Step Functions)
    /// sent to `lambda_port` (the edge), and turns Step Functions execution on.
    ///
    /// The port is free when picked but moto binds it only once Python has started, about a
    /// second later: another server of the process (a stack's function host, asking the OS
    /// for any port) may get it first. Moto then exits and the port answers as that server,
    /// so a start that does not end with moto itself configured is tried again on another
    /// port.
    pub async fn start(lambda_port: u16, log: &Path) -> Result<MotoServer, StackError> {
        let mut attempt = 1;
        loop {
            match MotoServer::start_on(crate::port::free_port()?, lambda_port, log).await {
                Ok(server) => return Ok(server),
                Err(e) if attempt < START_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "moto did not start; trying another port");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn start_on(port: u16, lambda_port: u16, log: &Path) -> Result<MotoServer, StackError> {
        let python = python();
        if !python.exists() {
            return Err(StackError::Setup(format!(
                "no Python with moto at {} (run scripts/bootstrap, or set LIFEBOAT_PYTHON)",
                python.display()
            )));
        }
        let log_file = std::fs::File::create(log)
            .map_err(|e| StackError::Setup(format!("creating {}: {e}", log.display())))?;
        let child = Command::new(&python)
            .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
            // moto's Step Functions interpreter calls Lambda at localhost:$MOTO_PORT.
            .env("MOTO_PORT", lambda_port.to_string())
            .env("MOTO_CALL_RESET_API", "false")
            // The edge reports and enforces the account's manual-snapshot quota (settable per
            // test, `edge::rds_quota`); moto's own fixed limit (1,000) would refuse behind it.
            .env("MOTO_RDS_SNAPSHOT_LIMIT", "10000000")
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                log_file
                    .try_clone()
                    .map_err(|e| StackError::Setup(e.to_string()))?,
            ))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StackError::Setup(format!("starting moto with {}: {e}", python.display())))?;
        let mut server = MotoServer { child, port };
        server.wait_until_listening(Duration::from_secs(60)).await?;
        server.enable_step_functions_execution().await?;
        // Answered, but perhaps by another server on the port while this moto failed to bind.
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(StackError::Setup(format!(
                "moto exited at start ({status}) while port {port} answered; see its log"
            )));
        }
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_listening(&mut self, limit: Duration) -> Result<(), StackError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StackError::Setup(format!(
                    "moto exited at start ({status}); see its log"
                )));
            }
            if started.elapsed() > limit {
                return Err(StackError::Setup(format!(
                    "moto did not listen on port {} within {limit:?}",
                    self.port
                )));
            }
            // Polling a port that is not open yet: back off up to 200 ms.
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(200));
        }
    }

    async fn enable_step_functions_execution(&self) -> Result<(), StackError> {
        let client = HttpClient::new();
        let url = format!("{}/moto-api/config", self.url());
        let body = br#"{"stepfunctions":{"execute_state_machine":true}}"#.to_vec();
        let (status, text) = client
            .send(http::request(
                "POST",
                &url,
                body,
                &[("content-type", "application/json")],
            ))
            .await
            .map_err(|e| StackError::Setup(format!("configuring moto: {e}")))?;
        if !status.is_success() {
            return Err(StackError::Setup(format!(
                "moto refused its config ({status}): {}",
                String::from_utf8_lossy(&text)
            )));
        }
        Ok(())
    }
}
