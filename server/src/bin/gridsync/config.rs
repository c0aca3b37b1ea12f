//! `gridsync.toml`: every `serve` setting in one file (ADR 0031). What decides a setting, first
//! first: its flag on the command line, its environment variable, the file, the built-in
//! default. The file is `--config PATH` (or `GRIDSYNC_CONFIG`), else `./gridsync.toml` when it
//! exists. A key the server does not know, or a value of the wrong type, stops every command
//! with the file, the line and the key named. `gridsync config check` prints the settings in
//! effect and where each came from, secrets hidden.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::serve::ServeArgs;

/// The file read when no `--config` is given, if it exists.
const DEFAULT_FILE: &str = "gridsync.toml";

/// The file's keys: `serve`'s flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<std::net::SocketAddr>,
    pub categories: Option<PathBuf>,
    pub calendar: Option<PathBuf>,
    pub supervise_every: Option<u64>,
    pub blob_store: Option<String>,
    pub abandon_uploads_after: Option<i64>,
    pub upload_mib_per_hour: Option<u32>,
    pub sms_config: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `text` or `json` (`--log-format`).
    pub log_format: Option<crate::LogFormat>,
}

/// The file read, if any, and where it is.
#[derive(Debug, Default)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub file: FileConfig,
}

/// Reads the configuration file `given` names (or the default one, if present).
pub fn load(given: Option<&Path>) -> anyhow::Result<Loaded> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(Loaded::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let mut file: FileConfig = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
    // Paths in the file are relative to the file, as an operator writing it expects.
    let base = path.parent().unwrap_or(Path::new("."));
    for p in [
        &mut file.categories,
        &mut file.calendar,
        &mut file.sms_config,
        &mut file.tls_cert,
        &mut file.tls_key,
    ]
    .into_iter()
    .flatten()
    {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    if let Some(dir) = &mut file.blob_store
        && !dir.contains("://")
        && Path::new(dir.as_str()).is_relative()
    {
        *dir = base.join(dir.as_str()).display().to_string();
    }
    Ok(Loaded {
        path: Some(path),
        file,
    })
}

/// Where a setting in effect came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

impl Source {
    fn of(matches: &ArgMatches, id: &str) -> Source {
        match matches.value_source(id) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env,
            _ => Source::Default,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "command line",
            Source::Env => "environment",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// Puts the file's value in place of a default (never of a flag or an environment variable).
fn fill<T>(matches: &ArgMatches, id: &str, slot: &mut T, from_file: Option<T>) -> Source {
    match (Source::of(matches, id), from_file) {
        (Source::Default, Some(v)) => {
            *slot = v;
            Source::File
        }
        (source, _) => source,
    }
}

/// The database URL in effect, and where it came from.
pub fn database_url(matches: &ArgMatches, url: &mut String, file: &FileConfig) -> Source {
    fill(matches, "database_url", url, file.database_url.clone())
}

/// The log format in effect, and where it came from.
pub fn log_format(
    matches: &ArgMatches,
    format: &mut crate::LogFormat,
    file: &FileConfig,
) -> Source {
    fill(matches, "log_format", format, file.log_format)
}

/// One setting in effect: its key, its value as `config check` shows it, where it came from.
pub struct Setting {
    key: &'static str,
    shown: String,
    source: Source,
}

impl Setting {
    /// The log format in effect, as `config check` shows it.
    pub fn log_format(format: crate::LogFormat, source: Source) -> Setting {
        use clap::ValueEnum;
        let name = format
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_owned());
        Setting {
            key: "log_format",
            shown: quoted(&name),
            source,
        }
    }
}

fn setting<T>(
    matches: &ArgMatches,
    key: &'static str,
    slot: &mut T,
    from_file: Option<T>,
    show: impl Fn(&T) -> String,
) -> Setting {
    let source = fill(matches, key, slot, from_file);
    Setting {
        key,
        shown: show(slot),
        source,
    }
}

fn quoted<T: std::fmt::Display + ?Sized>(s: &T) -> String {
    format!("{:?}", s.to_string())
}

fn path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "(none)".to_owned(), |p| quoted(&p.display()))
}

/// `serve`'s settings with the file's values in place of defaults: each as shown and where it
/// came from.
pub fn serve_args(matches: &ArgMatches, args: &mut ServeArgs, f: &FileConfig) -> Vec<Setting> {
    let some = |p: &Option<PathBuf>| p.clone().map(Some);
    vec![
        setting(matches, "listen", &mut args.listen, f.listen, quoted),
        setting(
            matches,
            "categories",
            &mut args.categories,
            some(&f.categories),
            path,
        ),
        setting(
            matches,
            "calendar",
            &mut args.calendar,
            some(&f.calendar),
            path,
        ),
        setting(
            matches,
            "supervise_every",
            &mut args.supervise_every,
            f.supervise_every,
            |n| n.to_string(),
        ),
        setting(
            matches,
            "blob_store",
            &mut args.blob_store,
            f.blob_store.clone(),
            quoted,
        ),
        setting(
            matches,
            "abandon_uploads_after",
            &mut args.abandon_uploads_after,
            f.abandon_uploads_after,
            |n| n.to_string(),
        ),
        setting(
            matches,
            "upload_mib_per_hour",
            &mut args.upload_mib_per_hour,
            f.upload_mib_per_hour,
            |n| n.to_string(),
        ),
        setting(
            matches,
            "sms_config",
            &mut args.sms_config,
            some(&f.sms_config),
            path,
        ),
        setting(
            matches,
            "tls_cert",
            &mut args.tls_cert,
            some(&f.tls_cert),
            path,
        ),
        setting(
            matches,
            "tls_key",
            &mut args.tls_key,
            some(&f.tls_key),
            path,
        ),
    ]
}

/// `gridsync config check`: the settings in effect, one `key = value  # source` line each,
/// the database password and the data key hidden.
pub fn print(loaded: &Loaded, url: &str, url_source: Source, settings: &[Setting]) {
    match &loaded.path {
        Some(p) => println!("# configuration file: {}", p.display()),
        None => println!("# no configuration file (--config, GRIDSYNC_CONFIG or ./gridsync.toml)"),
    }
    println!(
        "database_url = {:?}  # {}",
        crate::redact(url),
        url_source.as_str()
    );
    for s in settings {
        println!("{} = {}  # {}", s.key, s.shown, s.source.as_str());
    }
    let data_key = match std::env::var_os("GRIDSYNC_DATA_KEY") {
        Some(_) => "set (hidden)",
        None => "not set: a key kept in the database is used",
    };
    println!("# GRIDSYNC_DATA_KEY: {data_key}");
}
