//! The administrator's commands: accounts, devices and the jurisdiction tree. Each change is
//! audited like a console action.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use gridsync_core::taxonomy::Taxonomy;
use gridsync_core::{JurisdictionPath, Role};
use gridsync_server::auth;
use gridsync_server::now_ms;
use gridsync_server::org::{self, OrgSummary};
use gridsync_server::store::{Store, UserRecord};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds an account; the password comes from GRIDSYNC_PASSWORD or is generated and printed once.
    Add {
        id: String,
        /// grid_worker, mediator, township_staff, county_admin or department_handler.
        #[arg(long)]
        role: String,
        /// Jurisdiction path, e.g. 130322/101/201/01 for a grid.
        #[arg(long)]
        scope: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// Changes an account: moves it to another grid or role, resets its password (from
    /// GRIDSYNC_PASSWORD, or generated and printed once), disables or re-enables it.
    Update {
        id: String,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        /// A department code; `-` clears it.
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        reset_password: bool,
        /// Refuses the account's requests from now on (a departed worker).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Sets an account's number for SMS notices (`-` clears it) and whether it takes them.
    Sms {
        id: String,
        /// Digits, optionally after `+` (e.g. 13800000001 or +8613800000001); `-` clears it.
        #[arg(long)]
        phone: Option<String>,
        /// No SMS notices to this account (notices in the app and console continue).
        #[arg(long, conflicts_with = "opt_in")]
        opt_out: bool,
        #[arg(long)]
        opt_in: bool,
    },
    /// Lists accounts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Lists devices with their last sync.
    List,
    /// Revokes a lost phone: its next request is refused.
    Revoke { id: String },
    /// Unbinds a device's signing key (its phone store was lost and made anew): the next
    /// sign-in binds the new store's key. Signatures already kept stay valid.
    ResetKey { id: String },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Imports the tree from a CSV (one row per grid); all rows or none. See --help for the format.
    #[command(long_about = org::FORMAT_HELP)]
    Import {
        /// The CSV file (UTF-8; columns county_code,county_name,…,grid_code,grid_name).
        csv: PathBuf,
    },
    /// Lists the tree: path, level and name, sorted by path.
    List,
}

/// Runs an account command.
pub async fn user(store: &Store, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            id,
            role,
            scope,
            department,
            name,
        } => {
            let role = person_role(&role)?;
            let scope = JurisdictionPath::parse(&scope)?;
            gridsync_core::Identity::new(&id, role, scope.clone(), department.clone(), "cli")?;
            let (password, generated) = new_password();
            let hash =
                auth::hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            let account = UserRecord {
                display_name: name.unwrap_or_else(|| id.clone()),
                id: id.clone(),
                role,
                scope,
                department,
                password_hash: hash,
                disabled: false,
            };
            usable(store, &account).await?;
            store.add_user(&account, now_ms()).await?;
            if generated {
                println!("added {id}; password (shown once): {password}");
            } else {
                println!("added {id}");
            }
        }
        UserCommand::Update {
            id,
            role,
            scope,
            department,
            name,
            reset_password,
            disable,
            enable,
        } => {
            let Some(mut user) = store.user(&id).await? else {
                bail!("no user {id:?}");
            };
            if let Some(role) = role {
                user.role = person_role(&role)?;
            }
            if let Some(scope) = scope {
                user.scope = JurisdictionPath::parse(&scope)?;
            }
            if let Some(dept) = department {
                user.department = (dept != "-").then_some(dept);
            }
            if let Some(name) = name {
                user.display_name = name;
            }
            user.disabled = (user.disabled || disable) && !enable;
            // The same checks as for a new account: the scope must fit the role.
            gridsync_core::Identity::new(
                &id,
                user.role,
                user.scope.clone(),
                user.department.clone(),
                "cli",
            )?;
            let mut shown = None;
            if reset_password {
                let (password, generated) = new_password();
                user.password_hash =
                    auth::hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
                shown = generated.then_some(password);
            }
            usable(store, &user).await?;
            store.update_user(&user).await?;
            let what = format!(
                "role={} scope={} disabled={}",
                user.role, user.scope, user.disabled
            );
            store
                .audit("cli", "user_updated", &id, &what, now_ms())
                .await?;
            match shown {
                Some(p) => println!("updated {id} ({what}); password (shown once): {p}"),
                None => println!("updated {id} ({what})"),
            }
        }
        UserCommand::Sms {
            id,
            phone,
            opt_out,
            opt_in,
        } => {
            let now = gridsync_server::now_ms();
            if store.user(&id).await?.is_none() {
                anyhow::bail!("unknown_user: no account {id}");
            }
            if let Some(phone) = phone {
                let phone = (phone != "-").then_some(phone);
                if let Some(p) = &phone
                    && !valid_phone(p)
                {
                    anyhow::bail!(
                        "bad_phone: {p:?} is not a phone number (digits, optionally after +)"
                    );
                }
                store.set_user_phone(&id, phone.as_deref()).await?;
                store.audit("cli", "sms_phone_set", &id, "", now).await?;
            }
            if opt_out || opt_in {
                store.set_sms_opt_out(&id, opt_out).await?;
                let action = if opt_out { "sms_opt_out" } else { "sms_opt_in" };
                store.audit("cli", action, &id, "cli", now).await?;
            }
            let (phone, out) = store.user_sms(&id).await?.unwrap_or((None, false));
            println!(
                "{id}: SMS to {} ({})",
                phone.as_deref().unwrap_or("no number"),
                if out { "opted out" } else { "on" }
            );
        }
        UserCommand::List => {
            for u in store.users().await? {
                let dept = u.department.as_deref().unwrap_or("-");
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.display_name,
                    u.role,
                    u.scope,
                    dept,
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
    }
    Ok(())
}

/// Runs a device command.
pub async fn device(store: &Store, cmd: DeviceCommand) -> anyhow::Result<()> {
    match cmd {
        DeviceCommand::List => {
            for d in store.devices().await? {
                let last = d
                    .last_sync_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{}\tlast sync {}\t{}",
                    d.id,
                    if d.revoked { "revoked" } else { "active" },
                    last,
                    d.users.join(",")
                );
            }
        }
        DeviceCommand::Revoke { id } => {
            if !store.revoke_device(&id).await? {
                bail!("no device {id:?}");
            }
            store
                .audit("cli", "device_revoked", &id, "", now_ms())
                .await?;
            println!("revoked {id}");
        }
        DeviceCommand::ResetKey { id } => {
            if !store.reset_device_key(&id).await? {
                bail!("no device {id:?}");
            }
            store
                .audit("cli", "device_key_reset", &id, "", now_ms())
                .await?;
            println!("signing key of {id} reset: its next sign-in binds a new one");
        }
    }
    Ok(())
}

/// Runs a jurisdiction-tree command.
pub async fn org(store: &Store, cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Import { csv } => {
            let file =
                std::fs::File::open(&csv).with_context(|| format!("opening {}", csv.display()))?;
            let units = org::parse_org_csv_with_progress(std::io::BufReader::new(file), |rows| {
                eprintln!("已读取 {rows} 行 ({rows} rows read)…");
            })
            .with_context(|| format!("{}: nothing imported", csv.display()))?;
            store.import_org_units(&units).await?;
            let summary = OrgSummary::of(&units);
            store
                .audit(
                    "cli",
                    "org_imported",
                    &csv.display().to_string(),
                    &summary.en(),
                    now_ms(),
                )
                .await?;
            println!("{}", summary.zh());
            println!("{}", summary.en());
        }
        OrgCommand::List => {
            let units = store.org_units().await?;
            if units.is_empty() {
                eprintln!("还没有组织架构 (no org units yet): gridsync org import <csv>");
            }
            for (path, name) in units {
                println!("{path}\t{}\t{name}", path.level());
            }
        }
    }
    Ok(())
}

/// Refuses an account that could never see a case: a department the catalogue does not name
/// (`GRIDSYNC_CATEGORIES`, as for `serve`, else the shipped one), or, once a jurisdiction tree is
/// imported, a scope that is not one of its units.
async fn usable(store: &Store, account: &UserRecord) -> anyhow::Result<()> {
    if let Some(dept) = &account.department {
        let catalogue = match std::env::var_os("GRIDSYNC_CATEGORIES") {
            Some(path) => Taxonomy::load(std::path::Path::new(&path))?,
            None => Taxonomy::builtin().clone(),
        };
        if catalogue.department(dept).is_none() {
            let known: Vec<&str> = catalogue.departments().map(|d| d.code.as_str()).collect();
            bail!(
                "未知部门 (unknown department) {dept:?}: the catalogue has {}",
                known.join(", ")
            );
        }
    }
    let units = store.org_units().await?;
    if !units.is_empty() && !units.iter().any(|(path, _)| *path == account.scope) {
        bail!(
            "{} 不在组织架构中 (not in the jurisdiction tree): see `gridsync org list`, or import it first",
            account.scope
        );
    }
    Ok(())
}

/// A role a person may hold (`system` is the server's own actor, never a person).
/// A number an SMS gateway takes: 5–20 digits, optionally after `+`.
fn valid_phone(p: &str) -> bool {
    let digits = p.strip_prefix('+').unwrap_or(p);
    (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn person_role(role: &str) -> anyhow::Result<Role> {
    match Role::parse(role).filter(|r| r.is_person()) {
        Some(r) => Ok(r),
        None => {
            let people: Vec<&str> = Role::ALL
                .into_iter()
                .filter(|r| r.is_person())
                .map(Role::as_str)
                .collect();
            bail!("unknown role {role:?}: use {}", people.join(", "))
        }
    }
}

/// The password from GRIDSYNC_PASSWORD, or a generated one (and whether it was generated).
fn new_password() -> (String, bool) {
    match std::env::var("GRIDSYNC_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (auth::new_refresh_token().0[..16].to_owned(), true),
    }
}
