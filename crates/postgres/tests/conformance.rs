//! The whole conformance suite of `vigil-testkit` against a real PostgreSQL server.
//!
//! One run creates a fresh database with a random name on the server named by
//! `VIGIL_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`), gives every
//! store the checks ask for a schema of its own in it (so no check sees another's data), and
//! drops the database at the end, whatever the outcome. If the server cannot be reached, the
//! run fails and says so: it is never skipped.
//!
//! Arguments: substrings that select checks by name (`conformance::<check>`), as with
//! libtest; `--list` lists them; `--test-threads N` sets how many checks run at once (4 by
//! default). Other flags are ignored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use vigil_postgres::PostgresStore;
use vigil_testkit::conformance::{CHECKS, run_check};

/// `url` with every connection's `search_path` set to `schema` (URL or `key=value` form).
pub fn with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{schema}")
    } else {
        format!("{url} options='-csearch_path={schema}'")
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut filters = Vec::new();
    let mut threads = 4usize;
    let mut list = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "--list" => list = true,
            "--test-threads" => {
                i += 1;
                threads = args.get(i).and_then(|n| n.parse().ok()).unwrap_or(threads);
            }
            s if s.starts_with("--test-threads=") => {
                threads = s["--test-threads=".len()..].parse().unwrap_or(threads);
            }
            s if s.starts_with('-') => {}
            s => filters.push(s.to_owned()),
        }
        i += 1;
    }
    let names: Vec<String> = CHECKS
        .iter()
        .map(|c| format!("conformance::{}", c.name))
        .filter(|n| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if list {
        for n in &names {
            println!("{n}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", names.len());
    if names.is_empty() {
        println!("\ntest result: ok. 0 passed; 0 failed");
        return ExitCode::SUCCESS;
    }

    let (db, url) = support::fresh_database();
    let schemas = AtomicUsize::new(0);
    let factory = || {
        let schema = format!("s{}", schemas.fetch_add(1, Ordering::SeqCst));
        let mut admin = postgres::Client::connect(&url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test database {db}: {e}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("cannot create schema {schema}: {e}"));
        let store_url = with_search_path(&url, &schema);
        PostgresStore::open(&store_url)
            .unwrap_or_else(|e| panic!("cannot open the store on {store_url:?}: {e}"))
    };

    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let Some(name) = names.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        return;
                    };
                    let check = &name["conformance::".len()..];
                    let outcome = catch_unwind(AssertUnwindSafe(|| run_check(check, &factory)));
                    let ok = outcome.is_ok();
                    println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
                    if !ok {
                        failed
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(name.clone());
                    }
                }
            });
        }
    });
    support::drop_database(&db);

    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    let passed = names.len() - failed.len();
    let secs = start.elapsed().as_secs_f64();
    if failed.is_empty() {
        println!("\ntest result: ok. {passed} passed; 0 failed; finished in {secs:.2}s\n");
        ExitCode::SUCCESS
    } else {
        println!("\nfailures:");
        for f in &failed {
            println!("    {f}");
        }
        println!(
            "\ntest result: FAILED. {passed} passed; {} failed; finished in {secs:.2}s\n",
            failed.len()
        );
        ExitCode::FAILURE
    }
}
