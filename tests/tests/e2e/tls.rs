//! `gridsync serve --tls-cert --tls-key` (ADR 0036) with self-signed certificates made here:
//! HTTPS with HSTS and `Secure` cookies, plain HTTP refused, SIGHUP swapping the certificate on
//! the same listener (a broken file keeping the one in use), unusable files stopping `serve` and
//! `config check` with the key named, and the phone library trusting the certificate it is given.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cli::gridsync_in;

/// A self-signed certificate for 127.0.0.1 and localhost, written as `NAME.crt` and `NAME.key`.
struct Cert {
    pem: String,
    key_pem: String,
}

fn make_cert() -> Cert {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    Cert {
        pem: made.cert.pem(),
        key_pem: made.signing_key.serialize_pem(),
    }
}

impl Cert {
    fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert, &self.pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }

    /// An HTTP client that trusts this certificate only.
    fn client(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(self.pem.as_bytes()).unwrap();
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .max_redirects(0)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
                    .build(),
            )
            .build()
            .into()
    }
}

/// `gridsync serve` over HTTPS with `cert` and `key`; its standard error is collected line by
/// line; killed when dropped.
struct Https {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    logs: mpsc::Receiver<String>,
}

impl Https {
    fn start(cert: &Cert) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = cert.write(dir.path(), "server");
        let bin = gridsync_testkit::process::server_bin(None).unwrap();
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--supervise-every", "0"])
            .arg("--tls-cert")
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path)
            .arg("--blob-store")
            .arg(dir.path().join("blobs"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("gridsync.db").display()),
            )
            .env("GRIDSYNC_PASSWORD", "tls-test-Pa55")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("gridsync listening on ")
            .unwrap_or_else(|| panic!("no address first: {line:?}"))
            .to_owned();
        Https {
            child,
            url,
            dir,
            logs,
        }
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// `GET /healthz` with `client`: its status and HSTS header, or the connection's error.
    fn health(&self, client: &ureq::Agent) -> Result<(u16, Option<String>), String> {
        let resp = client
            .get(format!("{}/healthz", self.url))
            .call()
            .map_err(|e| e.to_string())?;
        let hsts = resp
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned());
        Ok((resp.status().as_u16(), hsts))
    }

    fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for a log line containing `needle`; every line read is returned.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = String::new();
        while Instant::now() < deadline {
            if let Ok(line) = self.logs.recv_timeout(Duration::from_millis(200)) {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return seen;
                }
            }
        }
        panic!("no log line with {needle:?}: {seen}");
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_carries_hsts_and_plain_http_is_refused() {
    let cert = make_cert();
    let server = Https::start(&cert);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    assert_eq!(
        server.health(&cert.client()),
        Ok((200, Some("max-age=31536000".to_owned())))
    );
    // An error answered over HTTPS carries it too.
    let resp = cert
        .client()
        .get(format!("{}/v1/cases", server.url))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("strict-transport-security"));
    // Cookies are marked `Secure`: a browser keeps the console's session off plain HTTP.
    let resp = cert
        .client()
        .get(format!("{}/console/lang?to=en", server.url))
        .call()
        .unwrap();
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        cookie.starts_with("gs_lang=en;") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    // A client that trusts only the public roots refuses the self-signed certificate.
    let public = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let err = server.health(&public).unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // Plain HTTP to the same port: a 400 naming the problem, then the connection closes.
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("\"code\":\"tls_required\""), "{answer}");
    assert!(
        !answer.contains("max-age"),
        "no HSTS over plain HTTP: {answer}"
    );
    // As an HTTP client sees it.
    let plain_url = server.url.replace("https://", "http://");
    let resp = crate::server::agent()
        .post(format!("{plain_url}/v1/auth/login"))
        .send_json(serde_json::json!({"user": "u", "password": "p"}))
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Still serving HTTPS after all that.
    assert_eq!(server.health(&cert.client()).map(|r| r.0), Ok(200));
}

#[test]
fn sighup_swaps_the_certificate_and_a_broken_file_keeps_the_one_in_use() {
    let first = make_cert();
    let second = make_cert();
    let server = Https::start(&first);
    assert_eq!(server.health(&first.client()).map(|r| r.0), Ok(200));
    assert!(server.health(&second.client()).is_err());

    // The files are renewed in place, then the server is told.
    second.write(server.dir.path(), "server");
    server.hangup();
    server.wait_for_log("TLS certificate reloaded");
    assert_eq!(server.health(&second.client()).map(|r| r.0), Ok(200));
    let err = server.health(&first.client()).unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // A renewal that went wrong: the key file is not the certificate's, or not there.
    let third = make_cert();
    std::fs::write(server.dir.path().join("server.key"), &third.key_pem).unwrap();
    server.hangup();
    let logs = server.wait_for_log("tls_reload_failed");
    assert!(logs.contains("tls_key"), "{logs}");
    assert!(!logs.contains("PRIVATE KEY"), "no key in the logs: {logs}");
    std::fs::remove_file(server.dir.path().join("server.crt")).unwrap();
    server.hangup();
    let logs = server.wait_for_log("tls_reload_failed");
    assert!(logs.contains("tls_cert"), "{logs}");
    assert_eq!(server.health(&second.client()).map(|r| r.0), Ok(200));
}

#[test]
fn an_unusable_certificate_or_key_stops_serve_and_config_check_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (good_cert, good_key) = make_cert().write(dir.path(), "good");
    let (_, other_key) = make_cert().write(dir.path(), "other");
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    let s = |p: &Path| p.display().to_string();
    for (cert, key, named, path) in [
        (s(&missing), s(&good_key), "tls_cert", s(&missing)),
        (s(&garbage), s(&good_key), "tls_cert", s(&garbage)),
        (s(&good_cert), s(&garbage), "tls_key", s(&garbage)),
        (s(&good_cert), s(&other_key), "tls_key", s(&other_key)),
    ] {
        // `serve` with flags; `config check` takes `serve`'s settings from the environment.
        let serve = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ];
        let env = [
            ("GRIDSYNC_TLS_CERT", cert.as_str()),
            ("GRIDSYNC_TLS_KEY", key.as_str()),
        ];
        for (args, env) in [(&serve[..], &[][..]), (&["config", "check"], &env)] {
            let (ok, out, err) = gridsync_in(dir.path(), args, env);
            assert!(!ok, "{args:?}: {out}");
            assert!(
                err.contains(named) && err.contains(&path),
                "{args:?}: {err}"
            );
            assert!(!err.contains("PRIVATE KEY"), "{err}");
        }
    }
    // One without the other, from the environment.
    let (ok, _, err) = gridsync_in(
        dir.path(),
        &["config", "check"],
        &[("GRIDSYNC_TLS_CERT", &s(&good_cert))],
    );
    assert!(
        !ok && err.contains("tls_cert is set but tls_key is not"),
        "{err}"
    );
    // From the file, relative to it; and shown by `config check` when good.
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/gridsync.toml"),
        "tls_cert = \"missing.pem\"\ntls_key = \"../good.key\"\n",
    )
    .unwrap();
    let (ok, _, err) = gridsync_in(dir.path(), &["--config", "etc/gridsync.toml", "serve"], &[]);
    assert!(!ok && err.contains("tls_cert etc/missing.pem"), "{err}");
    std::fs::write(
        dir.path().join("etc/gridsync.toml"),
        "tls_cert = \"../good.crt\"\ntls_key = \"../good.key\"\n",
    )
    .unwrap();
    let (ok, out, err) = gridsync_in(
        dir.path(),
        &["--config", "etc/gridsync.toml", "config", "check"],
        &[],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("tls_cert = \"etc/../good.crt\"  # file"),
        "{out}"
    );
    assert!(
        out.contains("tls_key = \"etc/../good.key\"  # file"),
        "{out}"
    );
    assert!(
        !dir.path().join("gridsync.db").exists(),
        "nothing opened before the certificate was refused"
    );
}

#[test]
fn the_phone_library_trusts_the_certificate_it_is_given() {
    use gridsync_ffi::{FfiError, FieldStore};
    let cert = make_cert();
    let server = Https::start(&cert);
    let db = format!(
        "sqlite://{}",
        server.dir.path().join("gridsync.db").display()
    );
    let added = Command::new(gridsync_testkit::process::server_bin(None).unwrap())
        .args(["user", "add", "wang", "--role", "grid_worker"])
        .args(["--scope", "130322/101/201/01"])
        .env("DATABASE_URL", &db)
        .env("GRIDSYNC_PASSWORD", "tls-test-Pa55")
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let phone_dir = tempfile::tempdir().unwrap();
    let store = FieldStore::open(
        phone_dir.path().join("phone.db").display().to_string(),
        vec![7; 32],
    )
    .unwrap();
    let login = || store.login(server.url.clone(), "wang".into(), "tls-test-Pa55".into());
    // The public roots by default: the county's own certificate is not among them.
    match login() {
        Err(FfiError::Network { reason }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}")
        }
        other => panic!("signed in without trusting the certificate: {other:?}"),
    }
    for bad in [cert.key_pem.clone(), "not PEM at all".to_owned()] {
        assert!(matches!(
            store.set_trusted_certificates(Some(bad)),
            Err(FfiError::InvalidInput { .. })
        ));
    }
    store
        .set_trusted_certificates(Some(cert.pem.clone()))
        .unwrap();
    assert_eq!(login().unwrap().role, "grid_worker");
    let outcome = store.sync(server.url.clone(), None).unwrap();
    assert_eq!(outcome.rejected, 0);
    // Back to the public roots.
    store.set_trusted_certificates(None).unwrap();
    assert!(matches!(
        store.sync(server.url.clone(), None),
        Err(FfiError::Network { .. })
    ));
}
