//! `vigil serve`: Microsoft Defender for Cloud's alerts REST API and a triage web page, over any
//! Vigil [`Store`].
//!
//! One process serves:
//!
//! - a faithful subset of Defender for Cloud's REST API ([`api`]): alerts (api-version
//!   2022-01-01: the four list scopes paged with `nextLink`, get, and the `dismiss`, `activate`,
//!   `resolve` and `inProgress` actions) and suppression rules (api-version
//!   2019-01-01-preview: list, get, PUT, DELETE), with ARM's error envelope, so Defender clients
//!   such as Microsoft's SDKs work against Vigil unchanged. The subscription id in the path is
//!   the tenant;
//! - Vigil's own additions under `/vigil/v1/` ([`ext`]): feedback, simulate, explain, related
//!   alerts, counts and a resumable server-sent-event stream of a tenant's event log;
//! - the triage page under `/ui/` ([`page`]): the queue, an alert's details, and its *Take
//!   action* tab. Server-rendered, no JavaScript.
//!
//! The layer decides nothing about triage: every change goes through the store (the engine),
//! called off the async threads. Security ([`auth`]): loopback by default; any other address
//! needs bearer tokens, each bound to the tenants it may see; a strict Content-Security-Policy,
//! CSRF-protected forms, request limits and timeouts.
//!
//! ```
//! use std::sync::Arc;
//! use vigil_core::store::{MemoryStore, Store};
//! use vigil_serve::{Config, Server};
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
//! let config = Config::new("127.0.0.1:0".parse()?);
//! let server = Server::spawn(store, config)?;
//! println!("listening on http://{}", server.addr());
//! // Dropping the handle stops the server.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use vigil_core::store::Store;

pub mod api;
pub mod auth;
pub mod ext;
pub mod page;
mod security;

pub use auth::{Identity, Tokens};

/// The error of starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address is not a loopback address and no tokens were given.
    #[error(
        "{0} is not a loopback address: serving on it needs authentication; pass a tokens file (--tokens FILE), or listen on 127.0.0.1"
    )]
    AuthRequired(SocketAddr),
    /// The tokens file is wrong.
    #[error("tokens file {path}: {message}")]
    Tokens {
        /// The file.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// The address cannot be bound, or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A page template does not compile (a defect of this crate).
    #[error("page template {name}: {message}")]
    Template {
        /// The template.
        name: String,
        /// The template engine's message.
        message: String,
    },
}

/// How the server runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on (`127.0.0.1:8080` by default in the command line).
    pub listen: SocketAddr,
    /// Bearer tokens and the tenants each may see; required unless `listen` is loopback. When
    /// given, every request must authenticate, on loopback too.
    pub tokens: Option<Tokens>,
    /// Alerts per page of Defender's list operations (1–1000; default 50).
    pub page_size: usize,
    /// The ARM location of alerts whose resource id names none (default `centralus`).
    pub location: String,
    /// The longest a request may take before it is answered 408 (default 30 s).
    pub request_timeout: Duration,
    /// The longest a client may take to send a request's headers before the connection is
    /// closed (default 10 s).
    pub header_timeout: Duration,
    /// The largest request body accepted (default 1 MiB); larger is 413.
    pub body_limit: usize,
    /// The tenant the page opens on (default `default`, the command line's default tenant).
    pub default_tenant: String,
}

impl Config {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Config {
        Config {
            listen,
            tokens: None,
            page_size: 50,
            location: "centralus".to_owned(),
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_limit: 1 << 20,
            default_tenant: "default".to_owned(),
        }
    }

    /// Requires these tokens.
    pub fn tokens(mut self, tokens: Tokens) -> Config {
        self.tokens = Some(tokens);
        self
    }

    /// Sets the page size of list operations (clamped to 1–1000).
    pub fn page_size(mut self, n: usize) -> Config {
        self.page_size = n.clamp(1, 1000);
        self
    }

    fn check(&self) -> Result<(), ServeError> {
        if self.tokens.is_none() && !self.listen.ip().is_loopback() {
            return Err(ServeError::AuthRequired(self.listen));
        }
        Ok(())
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: Config,
    pub(crate) pages: page::Templates,
}

pub(crate) type Shared = Arc<AppState>;

/// The whole application: the Defender API, Vigil's additions and the page, with the security
/// layers. For embedding in another axum application or a test; [`Server`] runs it.
pub fn router(store: Arc<dyn Store>, config: Config) -> Result<Router, ServeError> {
    config.check()?;
    let state: Shared = Arc::new(AppState {
        store,
        pages: page::Templates::new()?,
        config,
    });
    Ok(security::layers(
        Router::new()
            .merge(api::routes())
            .merge(ext::routes())
            .merge(page::routes())
            .fallback(api::not_found),
        state,
    ))
}

/// Runs `f` (a call into the synchronous store) on the blocking thread pool, off the async
/// threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(f).await
}

/// A running server, in its own thread with its own runtime; stops when dropped (or by
/// [`Server::stop`]).
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// Binds `config.listen` and serves `store` in a background thread until the handle is
    /// dropped.
    pub fn spawn(store: Arc<dyn Store>, config: Config) -> Result<Server, ServeError> {
        let app = router(store, config.clone())?;
        let addr = config.listen;
        let header_timeout = config.header_timeout;
        let io = |source| ServeError::Io { addr, source };
        let runtime = runtime().map_err(io)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(io)?;
        let bound = listener.local_addr().map_err(io)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("vigil-serve".into())
            .spawn(move || {
                runtime.block_on(async move {
                    serve_connections(listener, app, header_timeout, async move {
                        let _ = stopped.await;
                    })
                    .await
                    .map_err(|source| ServeError::Io {
                        addr: bound,
                        source,
                    })
                })
            })
            .map_err(io)?;
        Ok(Server {
            addr: bound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting requests, finishes the ones in flight, and returns how serving ended.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Io {
                addr: self.addr,
                source: std::io::Error::other("the server thread panicked"),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The most bytes of a request's head (request line and headers) read before it is refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a stopping server waits for requests in flight (and event streams) to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Accepts connections until `shutdown` completes, each served as HTTP/1.1 with a deadline on
/// the request head and a bound on its size; then lets requests in flight finish.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: wait, then accept again.
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection that fails (a reset, a timed-out head) concerns only its client.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

fn is_transient(e: &std::io::Error) -> bool {
    !matches!(
        e.kind(),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
    )
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil-serve-worker")
        .build()
}

/// Serves `store` on `config.listen` until `shutdown` completes, on the current thread (which
/// it blocks): what `vigil serve` runs. `ready` is called with the bound address once the
/// server accepts connections.
pub fn run(
    store: Arc<dyn Store>,
    config: Config,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = router(store, config.clone())?;
    let addr = config.listen;
    let io = |source| ServeError::Io { addr, source };
    let runtime = runtime().map_err(io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(io)?;
        ready(listener.local_addr().map_err(io)?);
        serve_connections(listener, app, config.header_timeout, shutdown)
            .await
            .map_err(io)
    })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM: the shutdown signal of [`run`] for a command line.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
