//! `vigil serve`: Defender's alerts API and the triage page over the database (`vigil-serve`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use vigil_core::store::{Store, TenantId};
use vigil_serve::{Config, Tokens};

use crate::output::Res;

/// The arguments of `vigil serve`.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// The address and port to listen on. Any address other than loopback requires --tokens.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A file of bearer tokens, one a line: NAME TOKEN TENANTS (comma-separated, or * for
    /// every tenant). With it, every request must present a token (the page asks for it once).
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Alerts per page of Defender's list operations (1 to 1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: u32,
}

/// Serves `store` until Ctrl-C or SIGTERM. The page opens on `tenant`.
pub(crate) fn serve<S: Store + 'static>(store: S, tenant: &TenantId, args: &ServeArgs) -> Res<()> {
    let mut config = Config::new(args.listen).page_size(args.page_size as usize);
    if let Some(path) = &args.tokens {
        config = config.tokens(Tokens::load(path)?);
    }
    config.default_tenant = tenant.as_str().to_owned();
    let store: Arc<dyn Store> = Arc::new(store);
    vigil_serve::run(
        store,
        config,
        |addr| {
            eprintln!(
                "vigil serve: listening on http://{addr}/ (the page: http://{addr}/ui/; the API: http://{addr}/subscriptions/...); Ctrl-C stops"
            );
        },
        vigil_serve::shutdown_signal(),
    )?;
    Ok(())
}
