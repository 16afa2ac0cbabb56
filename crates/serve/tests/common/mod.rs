//! What the serve tests share: a data set, servers over real stores, an HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use vigil_core::store::{Store, TenantId};
use vigil_core::{Alert, AlertId, Entity, KillChainIntent, ResourceIdentifier, Severity};
use vigil_serve::{Config, Server, Tokens};

/// The tenant (Defender subscription) the data set lives in.
pub const SUB: &str = "11111111-1111-1111-1111-111111111111";
/// A second tenant, for isolation.
pub const OTHER: &str = "22222222-2222-2222-2222-222222222222";

/// Alert `i` of the data set: severities, locations and resource groups vary with `i`.
pub fn alert(sub: &str, i: usize) -> Alert {
    let sev = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ][i % 4];
    let loc = if i.is_multiple_of(3) {
        "eastus"
    } else {
        "westeurope"
    };
    let rg = if i.is_multiple_of(2) { "prod" } else { "dev" };
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(i as i64);
    let vm = format!("vm-{i:03}");
    Alert::builder(
        AlertId::new(format!("2517{i:015}_{sub}")).unwrap(),
        if i.is_multiple_of(5) {
            "VM_EICAR"
        } else {
            "VM_SuspiciousPowerShellCommandLine"
        },
        format!("Suspicious activity on {vm}"),
        sev,
        at,
    )
    .arm(sub, loc)
    .description(format!("Something ran on {vm}."))
    .intent(KillChainIntent::Execution)
    .resource_identifier(ResourceIdentifier::azure_resource(format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"
    )))
    .entity(Entity::host(vm.clone()))
    .entity(Entity::ip(format!("10.0.{}.{}", i / 250, i % 250)))
    .remediation_step("Isolate the machine.")
    .build()
}

/// A SQLite store in a temporary directory (kept alive by the returned guard).
pub fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = vigil_sqlite::SqliteStore::open(dir.path().join("vigil.db")).unwrap();
    (Arc::new(store), dir)
}

/// Loads `n` alerts into `sub`.
pub fn load(store: &dyn Store, sub: &str, n: usize) {
    let alerts: Vec<Alert> = (0..n).map(|i| alert(sub, i)).collect();
    store
        .ingest(&TenantId::new(sub).unwrap(), &alerts, Utc::now())
        .unwrap();
}

/// A loopback server without tokens.
pub fn local_server(store: Arc<dyn Store>) -> Server {
    Server::spawn(store, Config::new("127.0.0.1:0".parse().unwrap())).unwrap()
}

/// A server requiring these tokens (file text).
pub fn token_server(store: Arc<dyn Store>, tokens: &str) -> Server {
    let config = Config::new("127.0.0.1:0".parse().unwrap()).tokens(Tokens::parse(tokens).unwrap());
    Server::spawn(store, config).unwrap()
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The workspace's root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with the test clients installed (`.ci/test-deps` installs it): `VIGIL_TEST_PYTHON`, else
/// `target/serve-venv/bin/python`. Missing, the test fails and says how to install it; it never
/// passes without running.
pub fn python() -> PathBuf {
    let path = std::env::var_os("VIGIL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/serve-venv/bin/python"));
    assert!(
        path.exists(),
        "{} does not exist: the serve client tests need Python with azure-mgmt-security and selenium, \
         and Debian's chromium and chromium-driver: run `.ci/test-deps` (as root; `.ci/test` runs it before the tests), or set VIGIL_TEST_PYTHON",
        path.display()
    );
    path
}

/// Where test runs save screenshots.
pub fn artifacts(name: &str) -> PathBuf {
    let dir = workspace().join("target/serve-test").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
