//! Where the local backend listens: 127.0.0.1 unless `--listen` sets another address, a warning when
//! it accepts other machines, and clear errors for an address portkey cannot serve from or a
//! running backend bound elsewhere. The backend runs with no mounts, so nothing is built.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn portkey(manifest: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portkey"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .expect("the portkey executable runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Returns the local addresses of the listening TCP sockets on `port`, from /proc/net/tcp and tcp6, as
/// the kernel writes them (hex, for example `0100007F` for 127.0.0.1).
fn listening_addresses(port: u16) -> Vec<String> {
    let port_hex = format!("{port:04X}");
    let mut addresses = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(content) = std::fs::read_to_string(table) else { continue };
        for line in content.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Field 1 is local_address:port, field 3 the state; 0A is LISTEN.
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else { continue };
            if *state != "0A" {
                continue;
            }
            if let Some((address, local_port)) = local.split_once(':')
                && local_port == port_hex
            {
                addresses.push(address.to_string());
            }
        }
    }
    addresses
}

fn server_json(manifest: &Path) -> serde_json::Value {
    let state = manifest.with_file_name("target").join("portkey/local/server.json");
    serde_json::from_str(&std::fs::read_to_string(&state).expect("server.json exists")).expect("server.json is JSON")
}

struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = portkey(&self.0, &["down"]);
    }
}

#[test]
fn backend_listens_on_loopback_by_default() {
    let manifest = support::fixture_copy("hello", "listen-default");
    let _down = Down(manifest.clone());
    let _ = portkey(&manifest, &["down"]);

    let up = portkey(&manifest, &["up"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(!text(&up.stderr).contains("warning"), "{}", text(&up.stderr));
    let port = server_json(&manifest)["port"].as_u64().unwrap() as u16;
    assert_eq!(listening_addresses(port), ["0100007F"], "the gateway must listen on 127.0.0.1 only");
}

#[test]
fn listen_on_all_addresses_warns() {
    let manifest = support::fixture_copy("hello", "listen-all");
    let _down = Down(manifest.clone());
    let _ = portkey(&manifest, &["down"]);

    let up = portkey(&manifest, &["up", "--listen", "0.0.0.0"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let stderr = text(&up.stderr);
    assert!(stderr.contains("warning: the local backend listens on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("anyone"), "{stderr}");
    let info = server_json(&manifest);
    assert_eq!(info["bind"], "0.0.0.0", "{info}");
    let port = info["port"].as_u64().unwrap() as u16;
    assert_eq!(listening_addresses(port), ["00000000"], "the gateway must listen on 0.0.0.0");

    // portkey's own commands still reach it over loopback.
    let ls = portkey(&manifest, &["ls"]);
    assert!(ls.status.success(), "{}", text(&ls.stderr));

    // Asking for loopback while it listens on every address names the way out.
    let again = portkey(&manifest, &["up", "--listen", "127.0.0.1"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    let message = text(&again.stderr);
    assert!(message.contains("already listens on 0.0.0.0"), "{message}");
    assert!(message.contains("portkey down"), "{message}");
}

#[test]
fn listen_rejects_other_interfaces() {
    let manifest = support::fixture_copy("hello", "listen-reject");
    let up = portkey(&manifest, &["up", "--listen", "192.0.2.10"]);
    assert_eq!(up.status.code(), Some(2), "{}", text(&up.stderr));
    let message = text(&up.stderr);
    assert!(message.contains("`192.0.2.10` is neither a loopback nor the unspecified address"), "{message}");
    assert!(message.contains("0.0.0.0"), "{message}");

    let up = portkey(&manifest, &["up", "--listen", "everywhere"]);
    assert!(text(&up.stderr).contains("`everywhere` is not an IP address"), "{}", text(&up.stderr));
}
