//! TLS from the connection string's `sslmode` (and `sslrootcert`). Without the `tls` feature a
//! mode that requires TLS is refused on open, naming the feature, and `disable`/`prefer` connect
//! in the clear. With it, each mode is checked against the test server, which speaks TLS with a
//! self-signed certificate for `localhost` (Debian's default, `ssl-cert-snakeoil`).

use vigil_core::store::ErrorKind;
use vigil_postgres::{Options, PostgresBackend, PostgresError};

use crate::support::{admin, drop_database, fresh_database};

/// `url` with `params` added to its query string.
fn with_params(url: &str, params: &str) -> String {
    if url.contains('?') {
        format!("{url}&{params}")
    } else {
        format!("{url}?{params}")
    }
}

/// Whether every connection to database `db` is encrypted (and there is at least one).
fn encrypted(db: &str) -> bool {
    let row = admin()
        .query_one(
            "SELECT coalesce(bool_and(s.ssl), false), count(*)
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.datname = $1",
            &[&db],
        )
        .unwrap();
    let count: i64 = row.get(1);
    assert!(count > 0, "no connection to {db}");
    row.get(0)
}

fn open(url: &str) -> Result<PostgresBackend, PostgresError> {
    PostgresBackend::open_with(
        url,
        Options {
            connect_timeout: std::time::Duration::from_secs(3),
            ..Options::default()
        },
    )
}

#[test]
fn sslmode_disable_connects_in_the_clear() {
    let (name, url) = fresh_database();
    let backend = open(&with_params(&url, "sslmode=disable")).unwrap();
    assert!(!encrypted(&name));
    drop(backend);
    drop_database(&name);
}

#[test]
fn a_bad_sslmode_is_refused_naming_the_modes() {
    let err = open("postgres://vigil@127.0.0.1:5432/vigil?sslmode=always").unwrap_err();
    assert!(matches!(err, PostgresError::Tls { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("verify-full"), "{err}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_the_feature_tls_modes_are_refused_naming_it_and_prefer_connects_in_the_clear() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let err = open(&format!(
            "postgres://vigil@127.0.0.1:5432/vigil?sslmode={mode}"
        ))
        .unwrap_err();
        assert!(
            matches!(&err, PostgresError::TlsNotEnabled { mode: m } if m == mode),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let text = err.to_string();
        assert!(
            text.contains("`tls` feature") && text.contains(mode),
            "{text}"
        );
    }
    let err = open("host=127.0.0.1 dbname=vigil sslmode=require").unwrap_err();
    assert!(
        matches!(err, PostgresError::TlsNotEnabled { .. }),
        "{err:?}"
    );

    let (name, url) = fresh_database();
    let backend = open(&with_params(&url, "sslmode=prefer")).unwrap();
    assert!(!encrypted(&name));
    drop(backend);
    drop_database(&name);
}

/// The server's certificate file, if the server speaks TLS and the file can be read here.
#[cfg(feature = "tls")]
fn server_certificate() -> Option<String> {
    let mut admin = admin();
    let ssl: String = admin.query_one("SHOW ssl", &[]).unwrap().get(0);
    let file: String = admin.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    let path = if file.starts_with('/') {
        file
    } else {
        let dir: String = admin.query_one("SHOW data_directory", &[]).unwrap().get(0);
        format!("{dir}/{file}")
    };
    if ssl != "on" || std::fs::metadata(&path).is_err() {
        eprintln!(
            "\n!!! SKIPPED: TLS against the server: it has ssl={ssl}, certificate {path:?} \
             (not readable here) !!!\n"
        );
        return None;
    }
    Some(path)
}

#[cfg(feature = "tls")]
#[test]
fn with_the_feature_each_mode_connects_as_it_says() {
    let Some(cert) = server_certificate() else {
        return;
    };
    let (name, url) = fresh_database();
    let root = cert.replace('/', "%2F");

    // require and prefer: encrypted, the certificate not checked.
    for mode in ["require", "prefer"] {
        let backend = open(&with_params(&url, &format!("sslmode={mode}"))).unwrap();
        assert!(encrypted(&name), "sslmode={mode}");
        drop(backend);
    }
    // verify-ca: the chain is checked (the certificate is its own root), not the host name;
    // the certificate names `localhost`, and 127.0.0.1 is accepted.
    let backend = open(&with_params(
        &url,
        &format!("sslmode=verify-ca&sslrootcert={root}"),
    ))
    .unwrap();
    assert!(encrypted(&name));
    drop(backend);

    // verify-full: the name is checked too: 127.0.0.1 is refused, localhost accepted.
    let err = open(&with_params(
        &url,
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let by_name = url.replace("127.0.0.1", "localhost");
    if by_name != url {
        let backend = open(&with_params(
            &by_name,
            &format!("sslmode=verify-full&sslrootcert={root}"),
        ))
        .unwrap();
        assert!(encrypted(&name));
        drop(backend);
    }
    // A root the certificate does not chain to: refused, in both verifying modes.
    let other = std::env::temp_dir().join(format!("vigil-tls-{}.pem", std::process::id()));
    std::fs::write(&other, OTHER_ROOT).unwrap();
    for mode in ["verify-ca", "verify-full"] {
        let err = open(&with_params(
            &url,
            &format!(
                "sslmode={mode}&sslrootcert={}",
                other.display().to_string().replace('/', "%2F")
            ),
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{mode}: {err}");
    }
    // A root file that is not there: a TLS settings error naming it.
    let err = open(&with_params(
        &url,
        "sslmode=verify-full&sslrootcert=%2Fno%2Fsuch%2Froot.crt",
    ))
    .unwrap_err();
    assert!(matches!(err, PostgresError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("/no/such/root.crt"), "{err}");
    let _ = std::fs::remove_file(&other);
    drop_database(&name);
}

/// A self-signed certificate unrelated to the server's (generated once with `openssl req -x509
/// -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj /CN=localhost -addext
/// subjectAltName=DNS:localhost -days 36500 -nodes`; its key was thrown away).
#[cfg(feature = "tls")]
const OTHER_ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUP1wZilOe3H3Fgsf7SeLOqYVyQ/cwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNDE5MDQyNVoYDzIxMjYxMTEw
MTkwNDI1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATmq1sbyN2d7CWxlqFS1EI9KSlNwSQPnx9uTeFb6o8YjT5dxTJbqJ5A
uyBa+VifAk6rDM5ueN2vyrZpg6BntDbao2kwZzAdBgNVHQ4EFgQUr4Yme4n0A6gO
wBgLqkT0ZbIGVbYwHwYDVR0jBBgwFoAUr4Yme4n0A6gOwBgLqkT0ZbIGVbYwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAKF4tVpU6VB1BvnCnOUprPlMQLgJQLrtYkLXTxlHMUPTAiEAoCrQZCdf
SP8n87GonJ0KlM6RGKjQAHeGF2B9tM+q1+U=
-----END CERTIFICATE-----
";
