//! The real `gridsync serve` binary on 127.0.0.1:0, as an operator runs it: for the crash
//! harness (which kills it) and the benchmarks (which measure it).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, anyhow, bail};

/// A running `gridsync serve`; killed with SIGKILL when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl ServerProcess {
    /// Starts `bin` on `db_url` with its blobs under `blobs`, without the supervision clock,
    /// logging at `rust_log` to this process's standard error; returns once it listens.
    pub fn start(bin: &Path, db_url: &str, blobs: &Path, rust_log: &str) -> anyhow::Result<Self> {
        ServerProcess::start_with(bin, db_url, blobs, rust_log, &[])
    }

    /// As [`ServerProcess::start`], with more `serve` arguments (`--sms-config FILE`).
    pub fn start_with(
        bin: &Path,
        db_url: &str,
        blobs: &Path,
        rust_log: &str,
        args: &[&std::ffi::OsStr],
    ) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--supervise-every", "0"])
            .args(args)
            .arg("--blob-store")
            .arg(blobs)
            .env("DATABASE_URL", db_url)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(stdout);
        reader.read_line(&mut line)?;
        // Keep reading what the server prints after its address, so its writes never meet a
        // closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("gridsync listening on ")
            .ok_or_else(|| anyhow!("gridsync serve did not start: {line:?}"))?
            .to_owned();
        Ok(ServerProcess { child, url })
    }

    /// SIGKILL: no shutdown hook runs, whatever the server was doing is cut off.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Peak resident memory (VmHWM), MB.
    pub fn peak_rss_mb(&self) -> f64 {
        peak_rss_mb_of(self.child.id())
    }

    /// CPU time (user + system) the server has used so far, seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.child.id())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident memory (VmHWM) of process `pid`, MB; 0 when unknown.
pub fn peak_rss_mb_of(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// CPU time (user + system) process `pid` has used so far, seconds; 0 when unknown. Read from
/// `/proc/<pid>/stat`, where the command name may hold spaces: fields are counted after its
/// closing parenthesis (utime and stime are the line's 14th and 15th), in USER_HZ ticks, which
/// Linux fixes at 100.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The `gridsync` binary: `explicit`, or the one next to the running program (a test binary in
/// `target/<profile>/deps` looks one level up).
pub fn server_bin(explicit: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(bin) = explicit {
        return Ok(bin.clone());
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("gridsync");
    if !bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p gridsync-server --bin gridsync` (the profile of this program), or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

/// `gridsync ARGS…` (an admin command) on the database `url`, as an operator runs it: (success,
/// standard output, standard error). Panics when the binary is missing or cannot start.
pub fn admin(url: &str, args: &[&str]) -> (bool, String, String) {
    let bin = server_bin(None).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("gridsync {args:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_grows_while_the_process_works() {
        let me = std::process::id();
        let before = super::cpu_seconds_of(me);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let used = super::cpu_seconds_of(me) - before;
        assert!(used >= 0.1, "300 ms of spinning used {used} s of CPU");
        assert_eq!(super::cpu_seconds_of(u32::MAX), 0.0, "an unknown process");
    }
}
