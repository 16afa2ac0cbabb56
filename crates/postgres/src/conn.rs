//! Pooled connections that keep their prepared statements.

use std::collections::HashMap;

use postgres::{Client, Config, NoTls, Statement};

/// A connection and the statements prepared on it, by SQL text.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) statements: HashMap<String, Statement>,
}

/// How connections are encrypted.
pub(crate) enum Tls {
    /// Never (`sslmode=disable`, or `prefer` without the `tls` feature).
    Off,
    /// Through rustls, as the connection string's `sslmode` asks.
    #[cfg(feature = "tls")]
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// Opens [`Conn`]s for the pool.
pub(crate) struct Manager {
    config: Config,
    tls: Tls,
}

impl Manager {
    pub(crate) fn new(config: Config, tls: Tls) -> Manager {
        Manager { config, tls }
    }
}

/// A failure to connect, shown with its causes (the driver's `Display` leaves them out, and the
/// pool keeps only the text of the last failure): "error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer", "error connecting to server: Connection refused".
#[derive(Debug)]
pub(crate) struct ConnectError(postgres::Error);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(db) = self.0.as_db_error() {
            return write!(f, "{}: {}", db.code().code(), db.message());
        }
        write!(f, "{}", self.0)?;
        let mut next = std::error::Error::source(&self.0);
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for ConnectError {}

impl From<postgres::Error> for ConnectError {
    fn from(e: postgres::Error) -> ConnectError {
        ConnectError(e)
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = ConnectError;

    fn connect(&self) -> Result<Conn, ConnectError> {
        let mut client = match &self.tls {
            Tls::Off => self.config.connect(NoTls)?,
            #[cfg(feature = "tls")]
            Tls::Rustls(connector) => self.config.connect(connector.clone())?,
        };
        // Prepared statements are kept, but planned with their parameters each time: a
        // generic plan made while a table was small (a seq scan of a fresh tenant's alerts,
        // say) would otherwise stay in use as it grows, until the next ANALYZE.
        client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
        // Alerts' JSON is compressed with LZ4 where the server has it: several times faster
        // to write than the default (pglz) at a similar size. A server built without LZ4
        // refuses the setting and keeps its default.
        let _ = client.batch_execute("SET default_toast_compression = lz4");
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), ConnectError> {
        conn.client.simple_query("")?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}
