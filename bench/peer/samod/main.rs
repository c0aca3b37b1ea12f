//! The samod peer of `gridsync-bench peer --peer samod`: a minimal sync server on samod and the
//! phones that push their case documents to it. Copied into the benchmark's scratch directory
//! and built there (see Cargo.toml.template); never part of the workspace.
//!
//!   samod-peer serve VARIANT PORT DATA_DIR
//!     VARIANT is `one-repo` (one Repo for every connection, as a sync server runs) or
//!     `repo-per-connection` (each WebSocket connection gets its own Repo over the one storage
//!     directory: no relay between phones). Prints `listening on port PORT` when ready. The line
//!     `stop` on standard input stops every Repo (samod waits for its storage writes), prints
//!     `stopped` and waits for standard input to close before exiting, so the caller can read the
//!     process's CPU time with everything flushed.
//!
//!   samod-peer phones URL DOCS_FILE CONCURRENCY TIME_LIMIT_S MANIFEST_FILE
//!     DOCS_FILE holds each phone's documents as Automerge saves: u32 phones, then per phone u32
//!     documents, then per document u32 length and the bytes (little-endian). Each phone is its
//!     own Repo with its own WebSocket connection, CONCURRENCY phones at once; a phone is done
//!     when the server's sync state has every one of its documents at the phone's heads. Writes
//!     one line `PHONE DOC DOCUMENT_ID` per document handed to samod into MANIFEST_FILE and
//!     prints one JSON line: {"seconds": …, "acked": …, "timed_out": …}.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocketUpgrade;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt, TryStreamExt};
use samod::storage::TokioFilesystemStorage;
use samod::{AcceptorEvent, BackoffConfig, DialError, Dialer, Repo, ShareConfig, Transport, Url};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("samod-peer: no runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("serve") if args.len() == 4 => runtime.block_on(serve(&args[1], &args[2], &args[3])),
        Some("phones") if args.len() == 6 => {
            runtime.block_on(phones(&args[1], &args[2], &args[3], &args[4], &args[5]))
        }
        _ => Err("usage: samod-peer serve VARIANT PORT DATA_DIR | \
                  samod-peer phones URL DOCS_FILE CONCURRENCY TIME_LIMIT_S MANIFEST_FILE"
            .into()),
    };
    if let Err(e) = result {
        eprintln!("samod-peer: {e}");
        std::process::exit(1);
    }
}

/// What a sync server shares, as automerge-repo-sync-server does: it syncs what a peer asks
/// about and announces nothing on its own.
const SERVER_SHARES: ShareConfig = ShareConfig::read_write().with_announce(false);

/// The server's Repos: the one Repo, or the live Repo of each connection.
#[derive(Clone, Default)]
struct Repos {
    live: Arc<Mutex<HashMap<u64, Repo>>>,
    next: Arc<AtomicU64>,
    /// Repos of closed connections still flushing their storage.
    stopping: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
}

impl Repos {
    fn insert(&self, repo: Repo) -> Option<u64> {
        let mut live = self.live.lock().ok()?;
        // Checked under the lock, so no Repo is added after `stop_all` took them.
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        live.insert(id, repo);
        Some(id)
    }

    fn take(&self, id: u64) -> Option<Repo> {
        self.live.lock().ok()?.remove(&id)
    }

    /// Stops every Repo and waits until each has written what it accepted.
    async fn stop_all(&self) {
        let repos: Vec<Repo> = match self.live.lock() {
            Ok(mut live) => {
                self.closing.store(true, Ordering::SeqCst);
                live.drain().map(|(_, r)| r).collect()
            }
            Err(_) => Vec::new(),
        };
        futures::future::join_all(repos.iter().map(|r| r.stop())).await;
        while self.stopping.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn server_repo(data: &PathBuf) -> Repo {
    Repo::build_tokio()
        .with_storage(TokioFilesystemStorage::new(data))
        .with_share_policy(SERVER_SHARES)
        .load()
        .await
}

async fn serve(variant: &str, port: &str, data: &str) -> Result<(), Error> {
    let port: u16 = port.parse().map_err(|e| format!("port {port:?}: {e}"))?;
    let data = PathBuf::from(data);
    std::fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    let url: Url = format!("ws://127.0.0.1:{port}/").parse()?;
    let repos = Repos::default();
    let app = match variant {
        "one-repo" => {
            let repo = server_repo(&data).await;
            let acceptor = repo.make_acceptor(url)?;
            repos.insert(repo);
            axum::Router::new().route(
                "/",
                axum::routing::get(move |upgrade: WebSocketUpgrade| {
                    let acceptor = acceptor.clone();
                    async move {
                        upgrade.on_upgrade(move |socket| async move {
                            if let Err(e) = acceptor.accept_axum(socket, None) {
                                eprintln!("samod-peer: accepting a connection: {e:?}");
                            }
                        })
                    }
                }),
            )
        }
        "repo-per-connection" => {
            // The storage id is written once, before connections race to create it.
            server_repo(&data).await.stop().await;
            let repos = repos.clone();
            axum::Router::new().route(
                "/",
                axum::routing::get(move |upgrade: WebSocketUpgrade| {
                    let (repos, data, url) = (repos.clone(), data.clone(), url.clone());
                    async move {
                        upgrade.on_upgrade(move |socket| async move {
                            if let Err(e) = one_connection(repos, data, url, socket).await {
                                eprintln!("samod-peer: a connection: {e}");
                            }
                        })
                    }
                }),
            )
        }
        other => return Err(format!("unknown variant {other:?}").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut out = tokio::io::stdout();
    out.write_all(format!("listening on port {port}\n").as_bytes())
        .await?;
    out.flush().await?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "stop" {
            break;
        }
    }
    repos.stop_all().await;
    out.write_all(b"stopped\n").await?;
    out.flush().await?;
    // The caller reads this process's CPU time now; it closes standard input when done.
    while lines.next_line().await?.is_some() {}
    server.abort();
    Ok(())
}

/// One phone's connection with its own Repo, stopped (and so flushed) when the phone leaves.
async fn one_connection(
    repos: Repos,
    data: PathBuf,
    url: Url,
    socket: axum::extract::ws::WebSocket,
) -> Result<(), Error> {
    let repo = server_repo(&data).await;
    let Some(id) = repos.insert(repo.clone()) else {
        repo.stop().await;
        return Ok(());
    };
    let acceptor = repo.make_acceptor(url)?;
    let mut events = acceptor.events();
    acceptor.accept_axum(socket, None)?;
    while let Some(event) = events.next().await {
        if matches!(event, AcceptorEvent::ClientDisconnected { .. }) {
            break;
        }
    }
    // `stop_all` may have taken (and be stopping) this Repo already.
    if let Some(repo) = repos.take(id) {
        repos.stopping.fetch_add(1, Ordering::SeqCst);
        repo.stop().await;
        repos.stopping.fetch_sub(1, Ordering::SeqCst);
    }
    Ok(())
}

/// A WebSocket dialer on tokio-tungstenite without TLS (the server is on the loopback).
struct WsDialer {
    url: Url,
}

impl Dialer for WsDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        use tokio_tungstenite::tungstenite::Message;
        let url = self.url.clone();
        Box::pin(async move {
            let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(DialError::transient)?;
            let (sink, stream) = ws.split();
            let stream = stream
                .try_filter_map(|m| async move {
                    Ok(match m {
                        Message::Binary(b) => Some(b.to_vec()),
                        _ => None,
                    })
                })
                .boxed();
            let sink = sink.with(|b: Vec<u8>| async move {
                Ok::<_, tokio_tungstenite::tungstenite::Error>(Message::Binary(b.into()))
            });
            Ok(Transport::new(stream, Box::pin(sink)))
        })
    }
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Result<u32, Error> {
    let end = *at + 4;
    let field = bytes.get(*at..end).ok_or("the documents file is cut short")?;
    *at = end;
    Ok(u32::from_le_bytes([field[0], field[1], field[2], field[3]]))
}

/// Each phone's documents, as saves.
fn read_docs(path: &str) -> Result<Vec<Vec<Vec<u8>>>, Error> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut at = 0;
    let phones = read_u32(&bytes, &mut at)?;
    (0..phones)
        .map(|_| {
            let docs = read_u32(&bytes, &mut at)?;
            (0..docs)
                .map(|_| {
                    let len = read_u32(&bytes, &mut at)? as usize;
                    let doc = bytes
                        .get(at..at + len)
                        .ok_or("the documents file is cut short")?;
                    at += len;
                    Ok(doc.to_vec())
                })
                .collect()
        })
        .collect()
}

/// One phone: its own Repo, connected to the server, done when the server's sync state has each
/// of its documents at the phone's heads.
async fn phone(
    url: Url,
    index: usize,
    docs: &[Vec<u8>],
    manifest: &Mutex<Vec<String>>,
    acked: &AtomicUsize,
) -> Result<(), Error> {
    let repo = Repo::build_tokio().load().await;
    let backoff = BackoffConfig {
        max_retries: Some(5),
        ..BackoffConfig::default()
    };
    let dialer = repo.dial(backoff, Arc::new(WsDialer { url }))?;
    dialer
        .established()
        .await
        .map_err(|e| format!("phone {index} could not connect: {e:?}"))?;
    let conn = dialer
        .connection_id()
        .ok_or_else(|| format!("phone {index} has no connection"))?;
    let mut handles = Vec::with_capacity(docs.len());
    for (n, bytes) in docs.iter().enumerate() {
        let doc = automerge::Automerge::load(bytes)?;
        let handle = repo.create(doc).await?;
        if let Ok(mut m) = manifest.lock() {
            m.push(format!("{index} {n} {}", handle.document_id()));
        }
        handles.push(handle);
    }
    futures::future::join_all(handles.iter().map(|h| async {
        h.they_have_our_changes(conn).await;
        acked.fetch_add(1, Ordering::SeqCst);
    }))
    .await;
    dialer.close();
    repo.stop().await;
    Ok(())
}

async fn phones(
    url: &str,
    docs_file: &str,
    concurrency: &str,
    time_limit_s: &str,
    manifest_file: &str,
) -> Result<(), Error> {
    let url: Url = url.parse()?;
    let all = Arc::new(read_docs(docs_file)?);
    let concurrency: usize = concurrency.parse::<usize>()?.max(1);
    let limit = Duration::from_secs_f64(time_limit_s.parse()?);
    let manifest = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency.min(all.len())).map(|_| {
        let (all, manifest, acked, next, url) = (
            all.clone(),
            manifest.clone(),
            acked.clone(),
            next.clone(),
            url.clone(),
        );
        tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(docs) = all.get(i) else {
                    return Ok::<(), Error>(());
                };
                phone(url.clone(), i, docs, &manifest, &acked).await?;
            }
        })
    });
    let workers: Vec<_> = workers.collect();
    let aborts: Vec<_> = workers.iter().map(|w| w.abort_handle()).collect();
    let timed_out = match tokio::time::timeout(limit, futures::future::join_all(workers)).await {
        Ok(results) => {
            for r in results {
                r??;
            }
            false
        }
        Err(_) => {
            aborts.iter().for_each(|a| a.abort());
            true
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let lines = manifest.lock().map(|m| m.join("\n")).unwrap_or_default();
    std::fs::write(manifest_file, lines + "\n")
        .map_err(|e| format!("writing {manifest_file}: {e}"))?;
    println!(
        "{{\"seconds\": {seconds}, \"acked\": {}, \"timed_out\": {timed_out}}}",
        acked.load(Ordering::SeqCst)
    );
    Ok(())
}
