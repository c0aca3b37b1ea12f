//! A loopback link between phones and the server, as a village's 2G link is: each way it lets
//! `bytes_per_s` through (the sender waits, as on a real link) and delivers every byte `one_way`
//! later; a new connection costs a round trip. It counts what it carries, lists every request
//! with the body bytes it forwarded, and can cut the next photo upload after a given number of
//! them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request seen on the link.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `PUT /v1/blobs/…` and so on.
    pub request_line: String,
    pub content_range: Option<String>,
    /// Body bytes forwarded to the server (framing included).
    pub body_bytes: usize,
    pub cut: bool,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    /// Cut the next `PUT /v1/blobs` after this many body bytes.
    cut_upload_after: Option<usize>,
}

/// The link's shape: speed each way and delay one way.
#[derive(Debug, Clone, Copy)]
struct Shape {
    bytes_per_s: f64,
    one_way: Duration,
}

/// The link; requests through `url` reach the upstream server.
pub struct Link {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    carried: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("url", &self.url).finish()
    }
}

impl Link {
    /// A link to `upstream` (`http://host:port`) carrying `bytes_per_s` each way, no delay.
    pub fn start(upstream: &str, bytes_per_s: usize) -> Link {
        Link::with_delay(upstream, bytes_per_s as f64, Duration::ZERO)
    }

    /// A link to `upstream` carrying `bytes_per_s` each way, every byte arriving `one_way`
    /// after it left.
    pub fn with_delay(upstream: &str, bytes_per_s: f64, one_way: Duration) -> Link {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let carried = Arc::new(AtomicUsize::new(0));
        let shape = Shape {
            bytes_per_s,
            one_way,
        };
        let (s, c) = (shared.clone(), carried.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, s, c) = (upstream.clone(), s.clone(), c.clone());
                std::thread::spawn(move || carry(client, &upstream, &s, &c, shape));
            }
        });
        Link {
            url,
            shared,
            carried,
        }
    }

    pub fn cut_next_upload_after(&self, body_bytes: usize) {
        self.shared.lock().unwrap().cut_upload_after = Some(body_bytes);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// Bytes carried so far, both ways (HTTP heads and bodies: the TCP payload).
    pub fn carried(&self) -> usize {
        self.carried.load(Ordering::Relaxed)
    }
}

/// One direction: `send` waits while the link serialises the bytes; a writer thread delivers
/// them `one_way` later.
struct Pipe {
    to: TcpStream,
    tx: Option<Sender<(Instant, Vec<u8>)>>,
    writer: Option<JoinHandle<()>>,
    broken: Arc<AtomicBool>,
    free_at: Instant,
    shape: Shape,
    carried: Arc<AtomicUsize>,
}

impl Pipe {
    fn new(to: TcpStream, shape: Shape, carried: Arc<AtomicUsize>) -> std::io::Result<Pipe> {
        let (tx, rx) = channel::<(Instant, Vec<u8>)>();
        let broken = Arc::new(AtomicBool::new(false));
        let (mut out, flag) = (to.try_clone()?, broken.clone());
        let writer = std::thread::spawn(move || {
            for (due, bytes) in rx {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if out.write_all(&bytes).is_err() {
                    flag.store(true, Ordering::SeqCst);
                    break;
                }
            }
        });
        Ok(Pipe {
            to,
            tx: Some(tx),
            writer: Some(writer),
            broken,
            free_at: Instant::now(),
            shape,
            carried,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        for piece in bytes.chunks(1460) {
            if self.broken.load(Ordering::SeqCst) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.carried.fetch_add(piece.len(), Ordering::Relaxed);
            let start = self.free_at.max(Instant::now());
            self.free_at =
                start + Duration::from_secs_f64(piece.len() as f64 / self.shape.bytes_per_s);
            if let Some(wait) = self.free_at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let due = self.free_at + self.shape.one_way;
            let sent = self.tx.as_ref().map(|tx| tx.send((due, piece.to_vec())));
            if !matches!(sent, Some(Ok(()))) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
        }
        Ok(())
    }

    /// Delivers what is on its way, then ends this direction (`how`).
    fn finish(mut self, how: Shutdown) {
        drop(self.tx.take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let _ = self.to.shutdown(how);
    }
}

/// Reads from `from` until an HTTP request head is complete: what was read, and where the body
/// starts in it; `None` when the connection ends first.
pub fn read_head(from: &mut TcpStream) -> Option<(Vec<u8>, usize)> {
    let mut read = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some((read, at + 4));
        }
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
}

/// An HTTP request as a fake peer (an SMS gateway) reads it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line and the headers.
    pub head: String,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value, its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one request from `from`: its head, then `Content-Length` bytes of body; `None` when
/// the connection ends first.
pub fn read_request(from: &mut TcpStream) -> Option<Request> {
    let (mut read, start) = read_head(from)?;
    let mut request = Request {
        head: String::from_utf8_lossy(&read[..start]).into_owned(),
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = read.split_off(start);
    let mut buf = [0u8; 16 * 1024];
    while body.len() < length {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(length);
    request.body = body;
    Some(request)
}

fn carry(
    mut client: TcpStream,
    upstream: &str,
    shared: &Mutex<Shared>,
    carried: &Arc<AtomicUsize>,
    shape: Shape,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    // Setting up the connection takes a round trip.
    std::thread::sleep(shape.one_way * 2);
    let (Ok(mut server_read), Ok(client_write)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    let (Ok(mut to_server), Ok(mut to_client)) = (
        Pipe::new(server, shape, carried.clone()),
        Pipe::new(client_write, shape, carried.clone()),
    ) else {
        return;
    };
    // Once the link is cut, what the server answers no longer reaches the phone.
    let dropped = Arc::new(AtomicBool::new(false));
    let muted = dropped.clone();
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !muted.load(Ordering::SeqCst) && to_client.send(&buf[..n]).is_err() {
                break;
            }
        }
        to_client.finish(Shutdown::Both);
    });
    // The request head, read whole before any of it goes on.
    let Some((mut head, body_start)) = read_head(&mut client) else {
        return;
    };
    let mut buf = [0u8; 16 * 1024];
    let text = String::from_utf8_lossy(&head[..body_start]).into_owned();
    let request_line = text.lines().next().unwrap_or_default().to_owned();
    let content_range = text.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-range:")
            .map(|v| v.trim().to_owned())
    });
    let is_upload = request_line.starts_with("PUT /v1/blobs/");
    let cut_after = if is_upload {
        shared.lock().unwrap().cut_upload_after.take()
    } else {
        None
    };
    // Listed at once and counted as bytes go (before they go, so a test reading the list
    // after the answer arrived sees every byte).
    let index = {
        let mut shared = shared.lock().unwrap();
        shared.seen.push(Seen {
            request_line,
            content_range,
            body_bytes: 0,
            cut: false,
        });
        shared.seen.len() - 1
    };
    let count = |n: usize, cut: bool| {
        let mut shared = shared.lock().unwrap();
        shared.seen[index].body_bytes += n;
        shared.seen[index].cut |= cut;
        shared.seen[index].body_bytes
    };
    let mut pending = head.split_off(body_start);
    if to_server.send(&head).is_err() {
        return;
    }
    let mut forwarded = 0;
    loop {
        if let Some(limit) = cut_after
            && forwarded + pending.len() >= limit
        {
            let take = limit - forwarded;
            count(take, true);
            let _ = to_server.send(&pending[..take]);
            // The link drops: the server sees the body end early and answers (waited for, so
            // what it kept is recorded before the phone tries again); the phone hears nothing.
            dropped.store(true, Ordering::SeqCst);
            to_server.finish(Shutdown::Write);
            let _ = back.join();
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        forwarded = count(pending.len(), false);
        if to_server.send(&pending).is_err() {
            break;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => pending = buf[..n].to_vec(),
        }
    }
    to_server.finish(Shutdown::Write);
    let _ = back.join();
}
