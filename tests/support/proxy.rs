//! A small fault-injecting HTTP proxy on loopback, in front of moto_server.
//! It is not an AWS server: every request it lets through is answered by
//! moto; it only replaces some answers with the errors AWS gives under load
//! (throttling, 429, 503) or for a missing permission, or delays them.
//!
//! One request per connection (`Connection: close` both ways), which the
//! SDK's HTTP client handles like any other closed keep-alive connection.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The signing name of the service, from the SigV4 credential scope.
    pub fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("unknown")
            .to_string()
    }

    /// `service:Operation` (for S3, `s3:METHOD ?subresource`).
    pub fn op(&self) -> String {
        let service = self.service();
        if let Some(t) = self.header("x-amz-target") {
            return format!("{service}:{}", t.rsplit('.').next().unwrap_or(t));
        }
        let body = String::from_utf8_lossy(&self.body);
        if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return format!("{service}:{action}");
        }
        let query = self
            .path
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .next()
                    .unwrap_or("")
                    .split('=')
                    .next()
                    .unwrap_or("")
            })
            .unwrap_or("");
        format!("{service}:{} ?{query}", self.method)
    }

    fn key(&self) -> (String, String, Vec<u8>) {
        (self.method.clone(), self.path.clone(), self.body.clone())
    }

    fn protocol(&self) -> Protocol {
        if self.header("x-amz-target").is_some() {
            Protocol::Json
        } else if self
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
        {
            Protocol::Query
        } else {
            Protocol::RestXml
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Protocol {
    Json,
    Query,
    RestXml,
}

/// What to do with a request instead of (or before) forwarding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// 400 with the service's throttling error code.
    Throttle,
    /// 429 Too Many Requests.
    TooMany,
    /// 503 Service Unavailable (S3: SlowDown).
    Unavailable,
    /// The permission is missing.
    AccessDenied,
    /// Forward after a pause of this many milliseconds.
    DelayMs(u64),
}

/// Identical requests seen so far: (method, path, body) -> count.
type Seen = Mutex<BTreeMap<(String, String, Vec<u8>), u32>>;

/// Decides per request; `attempt` counts identical requests (1 for the first).
pub type Policy = dyn Fn(&Request, u32) -> Option<Fault> + Send + Sync;

/// What the proxy did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub forwarded: u64,
    /// Faults answered, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Faults answered, by operation.
    pub faults_by_op: BTreeMap<String, u64>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    stats: Arc<Mutex<Stats>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, policy: Box<Policy>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Seen> = Arc::default();
        let policy: Arc<Policy> = Arc::from(policy);
        {
            let stats = stats.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stats, seen, policy, upstream) = (
                        stats.clone(),
                        seen.clone(),
                        policy.clone(),
                        upstream.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = handle(conn, &upstream, &*policy, &seen, &stats);
                    });
                }
            });
        }
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            stats,
            stop,
            port,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the accept loop
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_request(conn: &mut TcpStream) -> std::io::Result<(Vec<u8>, Request)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the request head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        return Err(std::io::Error::other(
            "chunked request bodies are not supported",
        ));
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let req = Request {
        method,
        path,
        headers,
        body,
    };
    Ok((buf[..head_end].to_vec(), req))
}

fn error_response(req: &Request, fault: Fault) -> Vec<u8> {
    let op = req.op();
    let (status, reason, json_code, query_code, s3_code, message) = match fault {
        Fault::Throttle => (
            400,
            "Bad Request",
            "ThrottlingException",
            "Throttling",
            "SlowDown",
            "Rate exceeded".to_string(),
        ),
        Fault::TooMany => (
            429,
            "Too Many Requests",
            "TooManyRequestsException",
            "Throttling",
            "SlowDown",
            "Too many requests".to_string(),
        ),
        Fault::Unavailable => (
            503,
            "Service Unavailable",
            "ServiceUnavailableException",
            "ServiceUnavailable",
            "SlowDown",
            "Service unavailable".to_string(),
        ),
        Fault::AccessDenied => (
            403,
            "Forbidden",
            "AccessDeniedException",
            "AccessDenied",
            "AccessDenied",
            format!("User is not authorized to perform: {op}"),
        ),
        Fault::DelayMs(_) => unreachable!("a delay is forwarded"),
    };
    let (ctype, body, status) = match req.protocol() {
        Protocol::Json => (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{json_code}","message":"{message}"}}"#),
            // JSON services answer AccessDenied with 400
            if status == 403 { 400 } else { status },
        ),
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
            status,
        ),
        Protocol::RestXml => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{s3_code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"
            ),
            if s3_code == "SlowDown" { 503 } else { status },
        ),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nx-amzn-RequestId: proxy\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn handle(
    mut conn: TcpStream,
    upstream: &str,
    policy: &Policy,
    seen: &Seen,
    stats: &Mutex<Stats>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (head, req) = read_request(&mut conn)?;
    let attempt = {
        let mut s = seen.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        let n = s.entry(req.key()).or_insert(0);
        *n += 1;
        *n
    };
    let fault = policy(&req, attempt);
    if let Some(f) = fault
        && let Ok(mut s) = stats.lock()
    {
        let kind = match f {
            Fault::DelayMs(_) => "delay".to_string(),
            other => format!("{other:?}"),
        };
        *s.faults.entry(kind).or_insert(0) += 1;
        if !matches!(f, Fault::DelayMs(_)) {
            *s.faults_by_op.entry(req.op()).or_insert(0) += 1;
        }
    }
    match fault {
        Some(Fault::DelayMs(ms)) => std::thread::sleep(Duration::from_millis(ms)),
        Some(f) => {
            conn.write_all(&error_response(&req, f))?;
            let _ = conn.shutdown(Shutdown::Both);
            return Ok(());
        }
        None => {}
    }
    // forward, one request per upstream connection
    let mut up = TcpStream::connect(upstream)?;
    let head = String::from_utf8_lossy(&head).to_string();
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    up.write_all(out.as_bytes())?;
    up.write_all(&req.body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let split = find(&resp, b"\r\n\r\n").unwrap_or(resp.len());
    let rhead = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut rewritten = String::new();
    for (i, line) in rhead.split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("Connection: close\r\n");
    conn.write_all(rewritten.as_bytes())?;
    // `rewritten` ends its last header line; what follows is the blank line and the body
    conn.write_all(&resp[(split + 2).min(resp.len())..])?;
    if let Ok(mut s) = stats.lock() {
        s.forwarded += 1;
    }
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}
