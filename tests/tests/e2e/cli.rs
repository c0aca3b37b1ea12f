//! The `gridsync` binary as an operator runs it: where `serve` writes (its address, and nothing
//! after it, on standard output for the scripts that read it; its logs on standard error,
//! without terminal colour codes when that is not a terminal), and admin commands that refuse
//! accounts nobody could use.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::server::agent;

#[test]
fn the_server_logs_to_standard_error_without_colour_codes() {
    let bin = gridsync_testkit::process::server_bin(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--supervise-every", "0"])
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
    assert_eq!(rest, "", "nothing on standard output after the address");
    assert!(logs.contains("sign-in refused"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
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
