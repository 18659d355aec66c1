//! Starts a real `moto_server` (PyPI `moto[server]`, pinned 5.1.22) on a free
//! loopback port for one test, and stops it when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// The moto version the tests are written against.
pub const MOTO_VERSION: &str = "5.1.22";

/// A running moto server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// Where moto_server is: `PIPEAUDIT_MOTO_SERVER`, else the project's `.venv`.
pub fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PIPEAUDIT_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
}

impl Moto {
    /// Starts moto; fails the test with instructions when it is not installed.
    pub fn start() -> Moto {
        let bin = moto_binary();
        assert!(
            bin.exists(),
            "moto_server not found at {}. Install the pinned version with \
             `python3 -m venv .venv && .venv/bin/pip install 'moto[server]=={MOTO_VERSION}'` \
             (or run scripts/test.sh, which does it), or point PIPEAUDIT_MOTO_SERVER at it.",
            bin.display()
        );
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => panic!("cannot start {}: {e}", bin.display()),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("moto_server exited with {status}");
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start: {last_err}");
    }

    /// An SDK configuration for this server with test credentials.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        sdk_config(&self.endpoint, region).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// An SDK configuration for an endpoint, with static test credentials.
pub async fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    let creds = Credentials::new("testing", "testing", None, None, "pipeaudit-tests");
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(pipeaudit::collect::clients::shared_https_client())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(creds)
        .load()
        .await
}
