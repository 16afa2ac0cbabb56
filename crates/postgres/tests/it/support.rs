//! A [`PostgresStore`] on a fresh database of its own, created on the test server
//! (`VIGIL_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`) and dropped
//! with it.

use vigil_postgres::PostgresStore;

/// The server the tests use.
pub fn server_url() -> String {
    std::env::var("VIGIL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database replaced by `dbname` (URL or `key=value` form).
pub fn with_dbname(url: &str, dbname: &str) -> String {
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (base, params) = match rest.split_once('?') {
                Some((b, p)) => (b, Some(p)),
                None => (rest, None),
            };
            let authority = base.split_once('/').map_or(base, |(a, _)| a);
            let mut out = format!("{scheme}{authority}/{dbname}");
            if let Some(p) = params {
                out.push('?');
                out.push_str(p);
            }
            return out;
        }
    }
    format!("{url} dbname={dbname}")
}

/// An error with its sources, `: `-separated.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// A connection to the test server's own database, or a failure that says what to do.
pub fn admin() -> postgres::Client {
    let url = server_url();
    postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to the PostgreSQL server for the tests at {url:?}: {}\n\
             start it (`pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does) \
             or point VIGIL_TEST_POSTGRES at one",
            chain(&e)
        )
    })
}

/// A fresh, empty database on the test server; returns its name and connection string.
pub fn fresh_database() -> (String, String) {
    let name = format!("vigil_test_{}", uuid::Uuid::new_v4().simple());
    admin()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let url = with_dbname(&server_url(), &name);
    (name, url)
}

/// Drops a test database, closing any connection still open to it.
pub fn drop_database(name: &str) {
    if let Err(e) = admin().batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
        eprintln!("cannot drop the test database {name}: {e}");
    }
}

/// A fresh store on a database of its own; the database goes away with it.
pub struct TempStore {
    store: Option<PostgresStore>,
    name: String,
    #[allow(dead_code)]
    pub url: String,
}

impl TempStore {
    pub fn new() -> TempStore {
        let (name, url) = fresh_database();
        let store = PostgresStore::open(&url)
            .unwrap_or_else(|e| panic!("cannot open the store on {url:?}: {e}"));
        TempStore {
            store: Some(store),
            name,
            url,
        }
    }

    pub fn store(&self) -> &PostgresStore {
        match &self.store {
            Some(s) => s,
            None => unreachable!("the store lives until the TempStore is dropped"),
        }
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        drop(self.store.take());
        drop_database(&self.name);
    }
}
