//! Pooled connections that keep their prepared statements.

use std::collections::HashMap;

use postgres::{Client, Config, NoTls, Statement};

/// A connection and the statements prepared on it, by SQL text.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) statements: HashMap<String, Statement>,
}

/// Opens [`Conn`]s for the pool.
pub(crate) struct Manager {
    config: Config,
}

impl Manager {
    pub(crate) fn new(config: Config) -> Manager {
        Manager { config }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        // Prepared statements are kept, but planned with their parameters each time: a
        // generic plan made while a table was small (a seq scan of a fresh tenant's alerts,
        // say) would otherwise stay in use as it grows, until the next ANALYZE.
        client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}
