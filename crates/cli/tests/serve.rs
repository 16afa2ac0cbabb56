//! `vigil serve --listen ADDR:PORT --db …`: the command serves the database it is given, and
//! refuses to serve other addresses than loopback without tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/alerts/sample-alerts.json"
);
const PS_ID: &str = "2517000000000000000_6513270e-269e-0d37-f2a7-4de452e6b438";

fn vigil() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("vigil"))
}

/// One HTTP/1.1 request on its own connection: the status and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vigil serve` on a free loopback port; returns the process and its address.
fn serve(args: &[&str]) -> (Serving, String) {
    let mut child = vigil()
        .args(args)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (Serving(child), addr)
}

#[test]
fn serves_the_database_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let db = db.to_str().unwrap();
    let status = vigil()
        .args(["--db", db, "--tenant", "contoso", "import", SAMPLES])
        .status()
        .unwrap();
    assert!(status.success());

    let (server, addr) = serve(&["--db", db, "--tenant", "contoso"]);
    let (s, body) = http(
        &addr,
        "GET",
        "/subscriptions/contoso/providers/Microsoft.Security/alerts?api-version=2022-01-01",
        None,
    );
    assert_eq!(s, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 14);
    assert!(names.contains(&PS_ID));
    let (s, body) = http(
        &addr,
        "POST",
        &format!(
            "/subscriptions/contoso/providers/Microsoft.Security/locations/westeurope/alerts/{PS_ID}/dismiss?api-version=2022-01-01"
        ),
        None,
    );
    assert_eq!(s, 204, "{body}");
    // The page opens on the --tenant.
    let (s, _) = http(&addr, "GET", "/ui/", None);
    assert_eq!(s, 303);
    drop(server);

    let out = vigil()
        .args(["--db", db, "--tenant", "contoso", "--json", "show", PS_ID])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["properties"]["status"], "Dismissed", "{shown}");
}

#[test]
fn other_addresses_need_tokens_and_tokens_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let db = db.to_str().unwrap();
    let out = vigil()
        .args(["--db", db, "serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tokens"), "{err}");

    let tokens = dir.path().join("tokens.txt");
    std::fs::write(&tokens, "alice short contoso\n").unwrap();
    let out = vigil()
        .args([
            "--db",
            db,
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            tokens.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1") && !err.contains("short contoso"),
        "{err}"
    );

    std::fs::write(&tokens, "alice alice-0123456789abcdef contoso\n").unwrap();
    let (_server, addr) = {
        let mut child = vigil()
            .args([
                "--db",
                db,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--tokens",
                tokens.to_str().unwrap(),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let a = line
            .split("http://")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        (Serving(child), a)
    };
    let path = "/subscriptions/contoso/providers/Microsoft.Security/alerts?api-version=2022-01-01";
    assert_eq!(http(&addr, "GET", path, None).0, 401);
    assert_eq!(
        http(&addr, "GET", path, Some("alice-0123456789abcdef")).0,
        200
    );
    assert_eq!(
        http(
            &addr,
            "GET",
            &path.replace("contoso", "fabrikam"),
            Some("alice-0123456789abcdef")
        )
        .0,
        404
    );
}
