//! A loopback HTTP/1.1 proxy for the benchmarks: it forwards every request
//! to an AWS-compatible test endpoint (e.g. moto_server) unchanged, after a
//! fixed delay, so that concurrency matters as it does against a real
//! region, and it logs every request with the times it arrived and was
//! answered, so that the scripts can count calls and measure how many round
//! trips followed one another.
//!
//! cargo run --example latency_proxy -- --upstream http://127.0.0.1:5000 --delay-ms 50 --log calls.tsv
//!
//! It prints its own URL (`http://127.0.0.1:PORT`) as its first line on
//! stdout, then serves until it is stopped. Each client connection is kept
//! alive as long as the client and the upstream keep theirs, with one
//! upstream connection of its own. Bodies (Content-Length, chunked or up to
//! the end of the connection) are forwarded byte for byte; only an
//! `Expect: 100-continue` is answered by the proxy itself.
//!
//! The log has one tab-separated line per request:
//! `arrived_us answered_us status operation connection`, times in
//! microseconds since the proxy started; `arrived` is when the request had
//! been read whole, `answered` when the response had been written whole.
//!
//! With `--waves-ms QUIET`, the proxy measures dependency depth instead of
//! adding a delay: it forwards requests at once but holds the answers until
//! every request that arrived has been answered upstream and none has
//! arrived for QUIET milliseconds, then releases them all together (a wave).
//! A request sent because of an answer therefore falls into the next wave,
//! and the number of waves is the number of sequential round trips the
//! client needed, however slow the server was. It prints the count of waves
//! on stderr as each one is released.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Forward HTTP requests to a test endpoint after a fixed delay, and log them.
#[derive(Parser)]
struct Args {
    /// The endpoint to forward to: http://HOST:PORT (a test server).
    #[arg(long)]
    upstream: String,
    /// The address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Milliseconds to wait before forwarding each request.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Release answers in waves (see above) after QUIET ms without a new request.
    #[arg(long, value_name = "QUIET", conflicts_with = "delay_ms")]
    waves_ms: Option<u64>,
    /// Append one line per request to FILE.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

/// Upper bound of a request or response head.
const MAX_HEAD: usize = 64 * 1024;

struct Shared {
    upstream: String,
    delay: Duration,
    started: Instant,
    log: Option<Mutex<BufWriter<File>>>,
    connections: AtomicU64,
    waves: Option<Waves>,
}

/// The state of the wave mode.
struct Waves {
    state: Mutex<WaveState>,
    /// The number of waves released so far.
    released: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct WaveState {
    arrived: u64,
    answered: u64,
    last_arrival: Option<Instant>,
}

impl Waves {
    /// Notes an arrival; the wave the request belongs to.
    fn arrive(&self) -> u64 {
        if let Ok(mut s) = self.state.lock() {
            s.arrived += 1;
            s.last_arrival = Some(Instant::now());
        }
        *self.released.borrow()
    }

    /// Notes an answer from upstream and waits until its wave is released.
    async fn answered(&self, wave: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.answered += 1;
        }
        let mut rx = self.released.subscribe();
        let _ = rx.wait_for(|released| *released > wave).await;
    }

    /// Releases the current wave when it is complete and quiet.
    async fn run(&self, quiet: Duration) {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let ready = match self.state.lock() {
                Ok(mut s) => {
                    let done = s.arrived > 0
                        && s.answered == s.arrived
                        && s.last_arrival.is_some_and(|t| t.elapsed() >= quiet);
                    if done {
                        *s = WaveState::default();
                    }
                    done
                }
                Err(_) => false,
            };
            if ready {
                self.released.send_modify(|n| *n += 1);
                eprintln!("latency_proxy: wave {}", *self.released.borrow());
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some(upstream) = args.upstream.strip_prefix("http://") else {
        eprintln!("latency_proxy: --upstream must be http://HOST:PORT");
        return ExitCode::from(2);
    };
    let log = match &args.log {
        Some(path) => match File::create(path) {
            Ok(f) => Some(Mutex::new(BufWriter::new(f))),
            Err(e) => {
                eprintln!("latency_proxy: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let listener = match TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("latency_proxy: listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("http://127.0.0.1:{port}");
    let _ = std::io::stdout().flush();
    let shared = Arc::new(Shared {
        upstream: upstream.trim_end_matches('/').to_string(),
        delay: Duration::from_millis(args.delay_ms),
        started: Instant::now(),
        log,
        connections: AtomicU64::new(0),
        waves: args.waves_ms.map(|_| Waves {
            state: Mutex::default(),
            released: tokio::sync::watch::Sender::new(0),
        }),
    });
    if let Some(quiet) = args.waves_ms {
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Some(w) = &shared.waves {
                w.run(Duration::from_millis(quiet)).await;
            }
        });
    }
    loop {
        let (conn, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("latency_proxy: accept: {e}");
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let id = shared.connections.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = serve(conn, id, &shared).await {
                eprintln!("latency_proxy: connection {id}: {e}");
            }
        });
    }
}

type Upstream = (BufReader<OwnedReadHalf>, OwnedWriteHalf);

/// One HTTP message as read: its head (with the blank line) and raw body.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The connection must be closed after this message.
    close: bool,
}

/// Serves one client connection until either side closes it.
async fn serve(client: TcpStream, id: u64, shared: &Shared) -> std::io::Result<()> {
    let _ = client.set_nodelay(true);
    let (cr, mut cw) = client.into_split();
    let mut cr = BufReader::new(cr);
    let mut upstream: Option<Upstream> = None;
    loop {
        let head = match read_head(&mut cr).await {
            Ok(Some(head)) => head,
            // a client may reset an idle kept-alive connection: that is a close
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        let req = Head::parse(&head)?;
        let mut forward_head = head.clone();
        if req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            cw.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            forward_head = without_header(&head, "expect");
        }
        let (body, _) = read_body(&mut cr, &req, BodyOf::Request).await?;
        let arrived = shared.started.elapsed();
        let wave = shared.waves.as_ref().map(|w| w.arrive());
        let op = operation(&req, &body);
        if !shared.delay.is_zero() {
            tokio::time::sleep(shared.delay).await;
        }
        let resp = match exchange(&mut upstream, shared, &forward_head, &body, &req).await {
            Ok(resp) => resp,
            Err(e) => {
                // answered like a gateway, so that the client sees (and may retry) it
                eprintln!("latency_proxy: connection {id}: upstream: {e}");
                upstream = None;
                Message {
                    head: b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec(),
                    body: Vec::new(),
                    close: true,
                }
            }
        };
        if let (Some(w), Some(wave)) = (&shared.waves, wave) {
            w.answered(wave).await;
        }
        cw.write_all(&resp.head).await?;
        cw.write_all(&resp.body).await?;
        cw.flush().await?;
        let answered = shared.started.elapsed();
        if let Some(log) = &shared.log
            && let Ok(mut w) = log.lock()
        {
            let status = Head::parse(&resp.head).map(|h| h.status).unwrap_or(0);
            let _ = writeln!(
                w,
                "{}\t{}\t{status}\t{op}\t{id}",
                arrived.as_micros(),
                answered.as_micros()
            );
            let _ = w.flush();
        }
        if resp.close {
            upstream = None;
        }
        if resp.close || req.wants_close() {
            let _ = cw.shutdown().await;
            return Ok(());
        }
    }
}

/// Attempts per request upstream.
const ATTEMPTS: u32 = 6;

/// Sends a request upstream and reads the answer. A connection that fails
/// before the answer is complete (a kept-alive one the server closed, or a
/// new one moto_server resets when many arrive at once) is replaced and the
/// request sent again, up to `ATTEMPTS` times with a short pause: nothing
/// has reached the client yet, and the benchmarks' clients only read.
async fn exchange(
    upstream: &mut Option<Upstream>,
    shared: &Shared,
    head: &[u8],
    body: &[u8],
    req: &Head,
) -> std::io::Result<Message> {
    let mut last = std::io::Error::other("upstream unreachable");
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            *upstream = None;
            // the first retry at once (a closed kept-alive connection), then 10, 20, 40 ms...
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(10 << (attempt - 2))).await;
            }
        }
        if upstream.is_none() {
            match TcpStream::connect(&shared.upstream).await {
                Ok(conn) => {
                    let _ = conn.set_nodelay(true);
                    let (r, w) = conn.into_split();
                    *upstream = Some((BufReader::new(r), w));
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            }
        }
        let Some((ur, uw)) = upstream.as_mut() else {
            continue;
        };
        let sent = async {
            uw.write_all(head).await?;
            uw.write_all(body).await?;
            uw.flush().await
        }
        .await;
        let answer = match sent {
            Ok(()) => read_response(ur, req).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(Some(m)) => return Ok(m),
            Ok(None) => last = std::io::Error::other("upstream closed without an answer"),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Reads a response (after any interim 1xx ones, which are dropped), or None
/// when the connection was closed before it began.
async fn read_response(
    ur: &mut BufReader<OwnedReadHalf>,
    req: &Head,
) -> std::io::Result<Option<Message>> {
    loop {
        let Some(head) = read_head(ur).await? else {
            return Ok(None);
        };
        let resp = Head::parse(&head)?;
        if (100..200).contains(&resp.status) {
            continue;
        }
        let (body, until_close) = read_body(ur, &resp, BodyOf::Response(req)).await?;
        let close = until_close || resp.wants_close();
        return Ok(Some(Message { head, body, close }));
    }
}

/// A parsed head: the first line's parts and the headers (names lowercased).
struct Head {
    method: String,
    path: String,
    version: String,
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> std::io::Result<Head> {
        let text = String::from_utf8_lossy(raw);
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.splitn(3, ' ');
        let (a, b, c) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if a.starts_with("HTTP/") {
            let status = b
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad status line {first:?}")))?;
            Ok(Head {
                method: String::new(),
                path: String::new(),
                version: a.to_string(),
                status,
                headers,
            })
        } else if c.starts_with("HTTP/") {
            Ok(Head {
                method: a.to_string(),
                path: b.to_string(),
                version: c.to_string(),
                status: 0,
                headers,
            })
        } else {
            Err(std::io::Error::other(format!("bad request line {first:?}")))
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn wants_close(&self) -> bool {
        self.has_token("connection", "close")
            || (self.version == "HTTP/1.0" && !self.has_token("connection", "keep-alive"))
    }
}

/// Reads a head up to and including its blank line; None on a clean end of
/// the connection before any byte.
async fn read_head<R: AsyncBufReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::Error::other("closed within a head"))
            };
        }
        if head == b"\r\n" {
            // a stray blank line between messages
            head.clear();
            continue;
        }
        if head.ends_with(b"\r\n\r\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
    }
}

enum BodyOf<'a> {
    Request,
    /// A response to this request.
    Response(&'a Head),
}

/// Reads a message body raw, as framed by its head; true when it was
/// delimited by the end of the connection.
async fn read_body<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    head: &Head,
    of: BodyOf<'_>,
) -> std::io::Result<(Vec<u8>, bool)> {
    if let BodyOf::Response(req) = of
        && (req.method == "HEAD" || head.status == 204 || head.status == 304)
    {
        return Ok((Vec::new(), false));
    }
    let mut body = Vec::new();
    if head.has_token("transfer-encoding", "chunked") {
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).await? == 0 {
                return Err(std::io::Error::other("closed within a chunked body"));
            }
            body.extend_from_slice(&line);
            let text = String::from_utf8_lossy(&line);
            let size_text = text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // trailers up to the blank line
                loop {
                    let mut t = Vec::new();
                    if r.read_until(b'\n', &mut t).await? == 0 {
                        return Err(std::io::Error::other("closed within trailers"));
                    }
                    body.extend_from_slice(&t);
                    if t == b"\r\n" {
                        return Ok((body, false));
                    }
                }
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            r.read_exact(&mut body[start..]).await?;
        }
    }
    if let Some(len) = head.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| std::io::Error::other(format!("bad content-length {len:?}")))?;
        body.resize(len, 0);
        r.read_exact(&mut body).await?;
        return Ok((body, false));
    }
    match of {
        BodyOf::Request => Ok((body, false)),
        BodyOf::Response(_) => {
            r.read_to_end(&mut body).await?;
            Ok((body, true))
        }
    }
}

/// A head without one header.
fn without_header(raw: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let is_it = line
            .split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name));
        if !is_it {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// `service:Operation` from the SigV4 scope and the protocol's operation
/// field; for REST services (S3) `service:METHOD /path-shape?subresource`.
fn operation(req: &Head, body: &[u8]) -> String {
    let service = req
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown");
    if let Some(t) = req.header("x-amz-target") {
        return format!("{service}:{}", t.rsplit('.').next().unwrap_or(t));
    }
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let form = String::from_utf8_lossy(body);
    if let Some(action) = form
        .split('&')
        .chain(query.split('&'))
        .find_map(|kv| kv.strip_prefix("Action="))
    {
        return format!("{service}:{action}");
    }
    let shape = match path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .count()
    {
        0 => "/",
        1 => "/{bucket}",
        _ => "/{bucket}/{key}",
    };
    let sub = query
        .split('&')
        .map(|kv| kv.split('=').next().unwrap_or_default())
        .find(|k| !k.is_empty() && !k.starts_with("x-id"))
        .unwrap_or_default();
    if sub.is_empty() {
        format!("{service}:{} {shape}", req.method)
    } else {
        format!("{service}:{} {shape}?{sub}", req.method)
    }
}
