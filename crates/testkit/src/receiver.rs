//! A real HTTP/1.1 webhook receiver on loopback, for tests and benchmarks of webhook delivery:
//! it accepts connections (keeping them alive), records every request, and answers as a
//! script says — a status, a hang past the client's timeout, a connection closed half-way
//! through the answer, a redirect.
//!
//! ```
//! use vigil_testkit::receiver::{Receiver, Reply};
//!
//! // Fails the first request, then accepts.
//! let r = Receiver::start(|_req, n| if n == 0 { Reply::Status(500) } else { Reply::Status(200) });
//! assert!(r.url("/hook").starts_with("http://127.0.0.1:"));
//! assert!(r.requests().is_empty());
//! ```

// A test helper: a failure to bind or spawn is a failed test, said loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// `POST`, …
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Its number in arrival order over all connections (0-based), as the script saw it.
    pub n: usize,
}

impl Received {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How to answer one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A complete answer with this status and a short body.
    Status(u16),
    /// Say nothing for this long, then close the connection.
    Hang(Duration),
    /// Write half of the status line, then close the connection.
    CloseMidResponse,
    /// A `307` to this location.
    Redirect(String),
}

type Script = dyn Fn(&Received, usize) -> Reply + Send + Sync;

struct Shared {
    requests: Mutex<Vec<Received>>,
    count: AtomicUsize,
    connections: AtomicUsize,
    stop: AtomicBool,
    record: bool,
    script: Box<Script>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Starts a receiver on a free loopback port; `script(request, n)` answers the `n`th
    /// request (0-based, over all connections).
    pub fn start(script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) -> Receiver {
        Receiver::start_on(0, script)
    }

    /// Starts a receiver on a given loopback port (0 for any).
    pub fn start_on(
        port: u16,
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        Receiver::launch(port, true, Box::new(script))
    }

    /// Starts a receiver that only counts requests (for benchmarks: nothing is kept).
    pub fn start_counting(
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Receiver {
        Receiver::launch(0, false, Box::new(script))
    }

    fn launch(port: u16, record: bool, script: Box<Script>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            record,
            script,
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Receiver { addr, shared }
    }

    /// A port on which nothing listens (taken, then released).
    pub fn free_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        l.local_addr().expect("a local address").port()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far (including those answered with a failure), in
    /// arrival order.
    pub fn requests(&self) -> Vec<Received> {
        let mut all = self.shared.requests.lock().unwrap().clone();
        all.sort_by_key(|r| r.n);
        all
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// How many connections were accepted (keep-alive makes this far fewer than requests).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_owned();
        if k == "content-length" {
            len = v.parse().ok()?;
        }
        headers.push((k, v));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
        n: 0,
    })
}

fn serve(conn: TcpStream, s: &Shared) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut r = BufReader::new(conn);
    while !s.stop.load(Ordering::SeqCst) {
        let Some(mut req) = read_request(&mut r) else {
            return;
        };
        let n = s.count.fetch_add(1, Ordering::SeqCst);
        req.n = n;
        let reply = (s.script)(&req, n);
        if s.record {
            s.requests.lock().unwrap().push(req);
        }
        match reply {
            Reply::Status(code) => {
                let text = format!(
                    "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
                );
                if out.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Redirect(to) => {
                let text = format!("HTTP/1.1 307 X\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
                if out.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Hang(d) => {
                std::thread::sleep(d);
                return;
            }
            Reply::CloseMidResponse => {
                let _ = out.write_all(b"HTTP/1.1 2");
                let _ = out.flush();
                return;
            }
        }
    }
}
