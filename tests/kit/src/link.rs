//! A throttled loopback link between phones and the server: it counts the body bytes of every
//! request and can cut the next photo upload after a given number of them, as a 2G link does.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// The link; requests through `url` reach the upstream server.
pub struct Link {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("url", &self.url).finish()
    }
}

impl Link {
    /// A link to `upstream` (`http://host:port`) carrying `bytes_per_s` each way.
    pub fn start(upstream: &str, bytes_per_s: usize) -> Link {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (upstream, s) = (upstream.clone(), s.clone());
                std::thread::spawn(move || carry(client, &upstream, &s, bytes_per_s));
            }
        });
        Link { url, shared }
    }

    pub fn cut_next_upload_after(&self, body_bytes: usize) {
        self.shared.lock().unwrap().cut_upload_after = Some(body_bytes);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }
}

/// Sends `buf` at no more than `rate` bytes a second.
fn throttled_write(to: &mut TcpStream, buf: &[u8], rate: usize) -> std::io::Result<()> {
    for piece in buf.chunks(4096) {
        let started = Instant::now();
        to.write_all(piece)?;
        let due = Duration::from_secs_f64(piece.len() as f64 / rate as f64);
        if let Some(rest) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    Ok(())
}

fn carry(mut client: TcpStream, upstream: &str, shared: &Mutex<Shared>, rate: usize) {
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let (mut server_read, mut client_write) =
        (server.try_clone().unwrap(), client.try_clone().unwrap());
    // Once the link is cut, what the server answers no longer reaches the phone.
    let dropped = Arc::new(AtomicBool::new(false));
    let muted = dropped.clone();
    let back = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = server_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !muted.load(Ordering::SeqCst)
                && throttled_write(&mut client_write, &buf[..n], rate).is_err()
            {
                break;
            }
        }
        let _ = client_write.shutdown(Shutdown::Both);
    });
    // The request head, read whole before any of it goes on.
    let mut head = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let body_start = loop {
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
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
    if throttled_write(&mut server, &head, rate).is_err() {
        return;
    }
    let mut forwarded = 0;
    loop {
        if let Some(limit) = cut_after
            && forwarded + pending.len() >= limit
        {
            let take = limit - forwarded;
            count(take, true);
            let _ = throttled_write(&mut server, &pending[..take], rate);
            // The link drops: the server sees the body end early and answers (waited for, so
            // what it kept is recorded before the phone tries again); the phone hears nothing.
            dropped.store(true, Ordering::SeqCst);
            let _ = server.shutdown(Shutdown::Write);
            let _ = back.join();
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        forwarded = count(pending.len(), false);
        if throttled_write(&mut server, &pending, rate).is_err() {
            break;
        }
        match client.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = server.shutdown(Shutdown::Write);
                break;
            }
            Ok(n) => pending = buf[..n].to_vec(),
        }
    }
    let _ = back.join();
}
