//! moto's server, the AWS emulator of the AWS backend's tests: installed into a venv by
//! `scripts/moto.sh` when missing, started on a free port of 127.0.0.1 for one test, and stopped
//! when the test ends. The environment it hands out points every AWS client at it, so nothing a
//! test does can reach real AWS.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub region: &'static str,
}

impl Moto {
    pub fn start() -> Moto {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/moto.sh");
        let output = Command::new("bash").arg(&script).output().expect("scripts/moto.sh runs");
        assert!(
            output.status.success(),
            "scripts/moto.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let server = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "moto_server did not listen on {port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "eu-west-1",
        }
    }

    /// The environment of a command that must talk to this server and nothing else: static test
    /// credentials, no profile files, no instance metadata lookups.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_REGION", self.region.into()),
            ("AWS_CONFIG_FILE", "/nonexistent/portkey-test-aws-config".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/portkey-test-aws-credentials".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Builds an SDK configuration for the test's own checks.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "portkey-tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(self.region))
            .credentials_provider(credentials)
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
