//! TLS settings of a connection string: `sslmode` and `sslrootcert`, read as libpq reads them,
//! and (with the `tls` feature) the rustls connector that enforces them.
//!
//! The driver knows `sslmode=disable|prefer|require` only, and no `sslrootcert`; so both are
//! taken out of the string before the driver parses the rest, and applied here.

use std::path::PathBuf;

use postgres::Config;
use postgres::config::SslMode as DriverMode;

use crate::error::PostgresError;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server offers it (libpq's `allow` is read as this too), unverified.
    Prefer,
    /// TLS or no connection; the certificate is verified against `sslrootcert` when one is
    /// given (as libpq does when a root file exists), else not at all.
    Require,
    /// TLS, the server's certificate chaining to a trusted root; any host name.
    VerifyCa,
    /// TLS, the server's certificate chaining to a trusted root and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS part of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    /// `sslrootcert`: a PEM file of trusted roots, or `system` for the platform's store.
    pub(crate) root_cert: Option<String>,
}

/// Parses a connection string (URL or `key=value` form), taking `sslmode` and `sslrootcert`
/// out for [`TlsSettings`] and giving the rest to the driver.
pub(crate) fn parse(url: &str) -> Result<(Config, TlsSettings), PostgresError> {
    let (rest, mode, root_cert) = split_tls(url)?;
    let mut config: Config = rest
        .parse()
        .map_err(|source| PostgresError::InvalidUrl { source })?;
    let mode = match mode.as_deref() {
        None => SslMode::Prefer,
        Some(text) => SslMode::parse(text).ok_or_else(|| PostgresError::Tls {
            problem: format!(
                "sslmode={text:?} is not a mode: use disable, allow, prefer, require, verify-ca or verify-full"
            ),
        })?,
    };
    config.ssl_mode(match mode {
        SslMode::Disable => DriverMode::Disable,
        SslMode::Prefer => DriverMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
    });
    Ok((config, TlsSettings { mode, root_cert }))
}

type Split = (String, Option<String>, Option<String>);

/// The connection string without `sslmode` and `sslrootcert`, and their values (the last of
/// each, as libpq takes it).
fn split_tls(url: &str) -> Result<Split, PostgresError> {
    let is_url = ["postgres://", "postgresql://"].iter().any(|s| {
        url.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if is_url {
        split_url(url)
    } else {
        split_key_values(url)
    }
}

fn split_url(url: &str) -> Result<Split, PostgresError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(percent_decode(value)?),
            "sslrootcert" => root = Some(percent_decode(value)?),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root))
}

fn percent_decode(text: &str) -> Result<String, PostgresError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return Err(PostgresError::Tls {
                    problem: format!("{text:?} has a bad percent-escape"),
                });
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PostgresError::Tls {
        problem: format!("{text:?} does not decode to UTF-8"),
    })
}

/// `key = value` pairs, values optionally single-quoted with `\'` and `\\` escapes (libpq's
/// form); the kept pairs are written back quoted.
fn split_key_values(text: &str) -> Result<Split, PostgresError> {
    let bad = |problem: String| PostgresError::Tls { problem };
    let mut chars = text.chars().peekable();
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad(format!(
                "expected `=` after {key:?} in the connection string"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad(format!("unterminated quoted value of {key:?}"))),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(bad(format!("unterminated quoted value of {key:?}")));
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(e) = chars.next() {
                        value.push(e);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        match key.as_str() {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            _ => kept.push(format!(
                "{key}='{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    Ok((kept.join(" "), mode, root))
}

/// Where trusted roots come from for a verifying mode: `sslrootcert` (a file, or `system`),
/// else libpq's default file `~/.postgresql/root.crt` when it exists, else the platform's
/// trust store.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) fn root_source(settings: &TlsSettings) -> Option<PathBuf> {
    match settings.root_cert.as_deref() {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".postgresql/root.crt"))
            .filter(|p| p.is_file()),
    }
}

#[cfg(feature = "tls")]
pub(crate) use connector::connector;

#[cfg(feature = "tls")]
mod connector {
    //! The rustls connector for each mode.

    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::ParsedCertificate;
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    use super::{SslMode, TlsSettings, root_source};
    use crate::error::PostgresError;

    /// Checks the server's certificate as the mode asks: not at all (`prefer`, and `require`
    /// without `sslrootcert`), its chain (`verify-ca`, `require` with `sslrootcert`), or its
    /// chain and name (`verify-full`). The handshake's signatures are always checked.
    #[derive(Debug)]
    struct Verifier {
        provider: Arc<CryptoProvider>,
        roots: Option<Arc<RootCertStore>>,
        check_name: bool,
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            let Some(roots) = &self.roots else {
                return Ok(ServerCertVerified::assertion());
            };
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
            if self.check_name {
                verify_server_name(&cert, server_name)?;
            }
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    fn roots(settings: &TlsSettings) -> Result<RootCertStore, PostgresError> {
        let mut store = RootCertStore::empty();
        match root_source(settings) {
            Some(path) => {
                let problem = |what: String| PostgresError::Tls {
                    problem: format!("sslrootcert {}: {what}", path.display()),
                };
                let certs = CertificateDer::pem_file_iter(&path)
                    .map_err(|e| problem(format!("cannot be read: {e}")))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| problem(format!("is not a PEM file of certificates: {e}")))?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(problem("holds no usable certificate".to_owned()));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                store.add_parsable_certificates(found.certs);
                if store.is_empty() {
                    return Err(PostgresError::Tls {
                        problem: format!(
                            "sslmode={} verifies the server's certificate, but the system's trust store holds no certificate; name the server's root with sslrootcert=/path/to/root.crt",
                            settings.mode.name()
                        ),
                    });
                }
            }
        }
        Ok(store)
    }

    /// The connector that enforces `settings`.
    pub(crate) fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, PostgresError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (roots, check_name) = match settings.mode {
            SslMode::VerifyFull => (Some(roots(settings)?), true),
            SslMode::VerifyCa => (Some(roots(settings)?), false),
            SslMode::Require if settings.root_cert.is_some() => (Some(roots(settings)?), false),
            _ => (None, false),
        };
        let verifier = Verifier {
            provider: provider.clone(),
            roots: roots.map(Arc::new),
            check_name,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PostgresError::Tls {
                problem: format!("cannot set up TLS: {e}"),
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn split(url: &str) -> Split {
        split_tls(url).unwrap()
    }

    #[test]
    fn urls_lose_their_tls_parameters_and_keep_the_rest() {
        assert_eq!(
            split(
                "postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem"
            ),
            (
                "postgres://u@h/db?application_name=x".to_owned(),
                Some("verify-full".to_owned()),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgresql://u@h/db?sslmode=require"),
            (
                "postgresql://u@h/db".to_owned(),
                Some("require".to_owned()),
                None
            )
        );
        assert_eq!(
            split("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None, None)
        );
        assert!(split_tls("postgres://u@h/db?sslrootcert=%zz").is_err());
    }

    #[test]
    fn key_value_strings_lose_their_tls_parameters_and_keep_the_rest() {
        let (rest, mode, root) = split(
            "host=db.example port = 5433 sslmode=verify-ca sslrootcert='/a b/c\\'s.pem' user=vigil",
        );
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(root.as_deref(), Some("/a b/c's.pem"));
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_user(), Some("vigil"));
        assert!(split_tls("host=h sslmode").is_err());
        assert!(split_tls("host=h sslrootcert='open").is_err());
    }

    #[test]
    fn modes_map_onto_the_driver() {
        let mode = |url: &str| {
            let (config, settings) = parse(url).unwrap();
            (config.get_ssl_mode(), settings.mode)
        };
        assert_eq!(
            mode("postgres://h/db"),
            (DriverMode::Prefer, SslMode::Prefer)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=disable"),
            (DriverMode::Disable, SslMode::Disable)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=allow"),
            (DriverMode::Prefer, SslMode::Prefer)
        );
        assert_eq!(
            mode("host=h sslmode=require"),
            (DriverMode::Require, SslMode::Require)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-ca"),
            (DriverMode::Require, SslMode::VerifyCa)
        );
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-full"),
            (DriverMode::Require, SslMode::VerifyFull)
        );
        let err = parse("postgres://h/db?sslmode=sometimes").unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
    }
}
