//! The `gridsync` binary as an operator runs it: where `serve` writes (its address, and nothing
//! after it, on standard output for the scripts that read it; its logs on standard error,
//! without terminal colour codes when that is not a terminal), and admin commands that refuse
//! accounts nobody could use.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::server::agent;

/// Runs `serve` with `extra` arguments, makes it log a refused sign-in, stops it: (what it
/// wrote on standard output after its address, its standard error).
fn serve_and_refuse_a_sign_in(extra: &[&str]) -> (String, String) {
    let bin = gridsync_testkit::process::server_bin(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--supervise-every", "0"])
        .args(extra)
        .arg("--blob-store")
        .arg(dir.path().join("blobs"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("gridsync.db").display()),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("gridsync listening on ")
        .unwrap_or_else(|| panic!("no address first: {line:?}"))
        .to_owned();
    // Something worth a log line: a refused sign-in.
    let resp = agent()
        .post(format!("{url}/v1/auth/login"))
        .send_json(serde_json::json!({
            "user": "nobody", "password": "wrong", "device": "phone-x", "actor": "0011"
        }))
        .unwrap();
    assert_eq!(resp.status(), 401);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    (rest, logs)
}

#[test]
fn the_server_logs_to_standard_error_without_colour_codes() {
    let (rest, logs) = serve_and_refuse_a_sign_in(&[]);
    assert_eq!(rest, "", "nothing on standard output after the address");
    assert!(logs.contains("sign-in refused"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
}

#[test]
fn json_logs_are_one_object_a_line_for_a_collector() {
    let (rest, logs) = serve_and_refuse_a_sign_in(&["--log-format", "json"]);
    assert_eq!(rest, "");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(lines.len() >= 2, "{logs}");
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
    }
    let refused = lines
        .iter()
        .find(|l| l["fields"]["message"] == "sign-in refused")
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(
        (&refused["level"], &refused["fields"]["user"]),
        (&serde_json::json!("INFO"), &serde_json::json!("nobody")),
        "{refused}"
    );
    assert!(!logs.contains("wrong"), "no password in the logs: {logs}");
}

#[test]
fn admin_commands_refuse_accounts_that_could_never_see_a_case() {
    let bin = gridsync_testkit::process::server_bin(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gridsync.db").display());
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .env("DATABASE_URL", &url)
            .env("GRIDSYNC_PASSWORD", "admin-test-pass")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    // `gridsync user add USER --role ROLE --scope SCOPE [--department DEPT]`.
    let add = |user: &str, role: &str, scope: &str, dept: Option<&str>| {
        let mut args = vec!["user", "add", user, "--role", role, "--scope", scope];
        args.extend(dept.map(|d| ["--department", d]).into_iter().flatten());
        run(&args)
    };
    let handler = |dept: &str| add("dept.1", "department_handler", "130533", Some(dept));
    let (ok, out) = handler("no_such_dept");
    assert!(!ok && out.contains("unknown department"), "{out}");
    let (ok, out) = handler("urban_management");
    assert!(ok, "{out}");
    let (ok, out) = run(&["user", "update", "dept.1", "--department", "nope"]);
    assert!(!ok && out.contains("unknown department"), "{out}");

    // Before a tree is imported any well-formed scope goes; after, only its units.
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/examples/org-sample.csv"
    );
    let (ok, out) = run(&["org", "import", sample]);
    assert!(ok, "{out}");
    let worker = |scope: &str| add("gw.1", "grid_worker", scope, None);
    let (ok, out) = worker("130533/100/201/99");
    assert!(!ok && out.contains("not in the jurisdiction tree"), "{out}");
    let (ok, out) = worker("130533/100/201/01");
    assert!(ok, "{out}");
    let (ok, out) = run(&["user", "list"]);
    assert!(
        ok && out.contains("gw.1") && !out.contains("no_such_dept"),
        "{out}"
    );
}

/// `gridsync` with `args`, in `dir`, with `env` (and no inherited DATABASE_URL or GRIDSYNC_*):
/// (success, stdout, stderr).
pub(crate) fn gridsync_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let bin = gridsync_testkit::process::server_bin(None).unwrap();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars() {
        if k == "DATABASE_URL" || k.starts_with("GRIDSYNC_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that should have stopped but serves instead must fail the test, not hang it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("gridsync {args:?} did not stop");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_configuration_file_stops_the_server_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gridsync.toml");
    for (text, key) in [
        ("lisen = \"127.0.0.1:0\"\n", "lisen"),
        ("supervise_every = \"sixty\"\n", "supervise_every"),
        ("listen = \"not an address\"\n", "listen"),
    ] {
        std::fs::write(&file, text).unwrap();
        // Found in the working directory as ./gridsync.toml, and named with --config.
        for args in [
            vec!["serve"],
            vec!["--config", "gridsync.toml", "config", "check"],
        ] {
            let (ok, out, err) = gridsync_in(dir.path(), &args, &[]);
            assert!(!ok, "{args:?} with {text:?}: {out}");
            assert!(err.contains(key) && err.contains("gridsync.toml"), "{err}");
        }
    }
    assert!(
        !dir.path().join("gridsync.db").exists(),
        "nothing is opened before the file is read"
    );
    let (ok, _, err) = gridsync_in(dir.path(), &["--config", "missing.toml", "migrate"], &[]);
    assert!(!ok && err.contains("missing.toml"), "{err}");
}

#[test]
fn config_check_says_where_each_setting_came_from_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/county.toml"),
        "listen = \"127.0.0.1:9001\"\nupload_mib_per_hour = 50\nblob_store = \"blobs\"\n\
         log_format = \"json\"\n\
         database_url = \"postgres://gridsync:s3cret-pw@db.example/gs\"\n",
    )
    .unwrap();
    let (ok, out, err) = gridsync_in(
        dir.path(),
        &["config", "check"],
        &[
            ("GRIDSYNC_CONFIG", "etc/county.toml"),
            ("GRIDSYNC_LISTEN", "127.0.0.1:9002"),
            ("GRIDSYNC_DATA_KEY", "a-data-key-never-printed"),
        ],
    );
    assert!(ok, "{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing: {out}"))
            .to_owned()
    };
    assert_eq!(line("listen"), "listen = \"127.0.0.1:9002\"  # environment");
    assert_eq!(
        line("upload_mib_per_hour"),
        "upload_mib_per_hour = 50  # file"
    );
    assert_eq!(line("supervise_every"), "supervise_every = 60  # default");
    assert_eq!(line("log_format"), "log_format = \"json\"  # file");
    // Paths in the file are the file's directory's.
    assert_eq!(line("blob_store"), "blob_store = \"etc/blobs\"  # file");
    assert!(line("database_url").ends_with("# file"));
    assert!(
        !out.contains("s3cret-pw") && !out.contains("a-data-key-never-printed"),
        "{out}"
    );
    assert!(out.contains("GRIDSYNC_DATA_KEY: set (hidden)"));
    // The command line wins over the file.
    let (ok, out, _) = gridsync_in(
        dir.path(),
        &[
            "--config",
            "etc/county.toml",
            "--database-url",
            "sqlite://x.db",
            "config",
            "check",
        ],
        &[],
    );
    assert!(ok);
    assert!(
        out.contains("database_url = \"sqlite://x.db\"  # command line"),
        "{out}"
    );
    assert!(out.contains("listen = \"127.0.0.1:9001\"  # file"), "{out}");
}

#[test]
fn serve_takes_its_settings_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gridsync.toml"),
        "listen = \"127.0.0.1:0\"\nsupervise_every = 0\nblob_store = \"photos\"\n\
         database_url = \"sqlite://county.db\"\n",
    )
    .unwrap();
    let bin = gridsync_testkit::process::server_bin(None).unwrap();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir.path()).arg("serve");
    for (k, _) in std::env::vars() {
        if k == "DATABASE_URL" || k.starts_with("GRIDSYNC_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("gridsync listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(dir.path().join("county.db").exists());
    assert!(dir.path().join("photos").is_dir());
}
