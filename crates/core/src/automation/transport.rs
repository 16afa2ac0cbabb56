//! The transports (feature `transports`): webhooks over HTTP(S) with `ureq` and rustls, and
//! local programs.
//!
//! The dispatcher's policy (what to send, when, how often) lives beside this module and does no
//! I/O; this is the part that talks to the network and starts processes, behind a feature so
//! that an embedder who wants a core without I/O can leave it out and bring a [`Transport`].
//!
//! **Webhooks:** one [`ureq::Agent`] (connections kept alive and reused) POSTs the payload with
//! the signed headers; the rule's timeout bounds the whole request; at most
//! [`RESPONSE_LIMIT`] bytes of an answer are read; only `http` and `https` URLs are called, and
//! a redirect is followed (at most [`MAX_REDIRECTS`] times, re-posting the body) only to the
//! same scheme, host and port. TLS is rustls with the Mozilla roots (webpki-roots). A 2xx
//! answer delivers; 408, 429, 5xx, timeouts and connection failures are retried; any other
//! answer is refused for good.
//!
//! **Commands:** the argument vector is run as is (no shell), the payload written to standard
//! input, standard output discarded and the first [`STDERR_LIMIT`] bytes of standard error
//! kept for the error message; the environment gains `VIGIL_TENANT`, `VIGIL_AUTOMATION`,
//! `VIGIL_DELIVERY`, `VIGIL_EVENT`, `VIGIL_ATTEMPT` and `VIGIL_IDEMPOTENCY_KEY`. A program
//! still running at its timeout is killed (SIGKILL), with every process it started (it runs in
//! a process group of its own). Exit code 0 delivers; any other exit
//! code, a signal or a timeout is retried; a program that cannot be started is refused for
//! good.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::delivery::Outcome;
pub use super::dispatch::{Request, Transport};
use super::model::{Action, CommandAction, Url, Webhook};

/// The most bytes of a webhook's answer that are read.
pub const RESPONSE_LIMIT: u64 = 64 * 1024;
/// The most same-origin redirects followed.
pub const MAX_REDIRECTS: u32 = 3;
/// The most bytes of a program's standard error kept.
pub const STDERR_LIMIT: usize = 4096;

/// The production transport: webhooks over HTTP(S), commands as local processes.
#[derive(Debug)]
pub struct Standard {
    agent: ureq::Agent,
}

impl Default for Standard {
    fn default() -> Self {
        Standard::new()
    }
}

impl Standard {
    /// A transport with one connection pool.
    pub fn new() -> Standard {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(8)
            .build();
        Standard {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn post(&self, w: &Webhook, request: &Request<'_>) -> Outcome {
        let mut url = match Url::parse(&w.url) {
            Ok(u) => u,
            Err(e) => return Outcome::reject(None, format!("the URL is refused: {e}")),
        };
        let first = url.clone();
        let deadline = Instant::now() + w.timeout();
        for _ in 0..=MAX_REDIRECTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Outcome::retry(None, "timeout");
            }
            let mut b = self
                .agent
                .post(url.to_string())
                .config()
                .timeout_global(Some(left))
                .build();
            for (k, v) in &request.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            let mut resp = match b.send(request.delivery.payload.as_bytes()) {
                Ok(r) => r,
                Err(e) => return transport_error(e),
            };
            let status = resp.status().as_u16();
            let label = format!("HTTP {status}");
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // Read (at most the limit of) the answer so the connection can be reused.
            let mut body = Vec::new();
            let read = resp
                .body_mut()
                .with_config()
                .limit(RESPONSE_LIMIT)
                .reader()
                .read_to_end(&mut body);
            let excerpt = || {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                let text: String = text.chars().filter(|c| !c.is_control()).collect();
                if read.is_err() {
                    format!("{text}… (answer cut at {RESPONSE_LIMIT} bytes)")
                } else {
                    text
                }
            };
            match status {
                200..=299 => return Outcome::Delivered { status: label },
                300..=399 => {
                    let Some(loc) = location else {
                        return Outcome::reject(Some(label), "a redirect without a Location");
                    };
                    match url.join(&loc) {
                        Ok(next) if next.same_origin(&first) => url = next,
                        Ok(next) => {
                            return Outcome::reject(
                                Some(label),
                                format!(
                                    "redirect to another host ({}://{}:{}) not followed",
                                    next.scheme, next.host, next.port
                                ),
                            );
                        }
                        Err(e) => return Outcome::reject(Some(label), e),
                    }
                }
                408 | 429 | 500..=599 => {
                    return Outcome::retry(
                        Some(label),
                        format!("the receiver answered: {}", excerpt()),
                    );
                }
                _ => {
                    return Outcome::reject(
                        Some(label),
                        format!("the receiver refused the delivery: {}", excerpt()),
                    );
                }
            }
        }
        Outcome::reject(None, format!("more than {MAX_REDIRECTS} redirects"))
    }
}

fn transport_error(e: ureq::Error) -> Outcome {
    match e {
        ureq::Error::Timeout(_) => Outcome::retry(None, "timeout"),
        ureq::Error::BadUri(m) => Outcome::reject(None, format!("bad URL: {m}")),
        other => Outcome::retry(None, other.to_string()),
    }
}

impl Transport for Standard {
    fn deliver(&self, request: &Request<'_>) -> Outcome {
        match request.action {
            Action::Webhook(w) => self.post(w, request),
            Action::Command(c) => run(c, request),
        }
    }
}

/// Sends SIGKILL to the process group the program leads (what it started included), through
/// the system's `kill` (no `unsafe` here); the program itself is killed directly as well.
fn kill_group(pid: u32) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Runs a command action once.
fn run(c: &CommandAction, request: &Request<'_>) -> Outcome {
    let Some((program, args)) = c.argv.split_first() else {
        return Outcome::reject(None, "the command has no program");
    };
    let d = request.delivery;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("VIGIL_TENANT", request.tenant.as_str())
        .env("VIGIL_AUTOMATION", &d.automation)
        .env("VIGIL_DELIVERY", d.id.to_string())
        .env("VIGIL_EVENT", d.event.to_string())
        .env("VIGIL_ATTEMPT", request.attempt.to_string())
        .env(
            "VIGIL_IDEMPOTENCY_KEY",
            d.idempotency_key(request.tenant.as_str()),
        );
    // Its own process group, so that a timeout ends whatever it started too (and a Ctrl-C
    // meant for the dispatcher does not reach it).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            return Outcome::reject(None, format!("{program:?} cannot be started: {e}"));
        }
        Err(e) => return Outcome::retry(None, format!("{program:?} cannot be started: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let body = d.payload.clone().into_bytes();
        // A program that does not read its input must not block the dispatcher.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = STDERR_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            let _ = tx.send(String::from_utf8_lossy(&kept).trim().to_owned());
        });
    }
    let timeout = c.timeout();
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                break Err(());
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Outcome::retry(None, format!("waiting for {program:?}: {e}")),
        }
    };
    let Ok(status) = status else {
        return Outcome::retry(
            Some("timeout".into()),
            format!(
                "{program:?} was killed after its {}s timeout",
                timeout.as_secs()
            ),
        );
    };
    // The error output of a program that exited is complete unless a process it started still
    // holds the pipe: wait for it briefly.
    let err_text = rx
        .recv_timeout(Duration::from_millis(200))
        .unwrap_or_default();
    match status.code() {
        Some(0) => Outcome::Delivered {
            status: "exit 0".into(),
        },
        Some(code) => Outcome::retry(
            Some(format!("exit {code}")),
            if err_text.is_empty() {
                format!("{program:?} exited with {code}")
            } else {
                format!("{program:?} exited with {code}: {err_text}")
            },
        ),
        None => Outcome::retry(
            Some("signal".into()),
            format!("{program:?} was ended by a signal"),
        ),
    }
}
