//! `gridsync erase`: a case's personal data erased by destroying its keys (ADR 0029), by a
//! county administrator, with a reason, audited.

use anyhow::bail;
use clap::Args;
use gridsync_core::Role;
use gridsync_server::now_ms;
use gridsync_server::store::{Store, StoreError};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["case", "person"])))]
pub struct EraseArgs {
    /// The case whose personal data is erased.
    #[arg(long)]
    case: Option<String>,
    /// Every case one of whose people has this name or phone number.
    #[arg(long)]
    person: Option<String>,
    /// Why (recorded in the audit log and the erasure log), e.g. "当事人申请删除".
    #[arg(long)]
    reason: String,
    /// The county administrator's account that decides it.
    #[arg(long)]
    by: String,
}

pub async fn erase(store: &Store, args: EraseArgs) -> anyhow::Result<()> {
    let Some(admin) = store.users().await?.into_iter().find(|u| u.id == args.by) else {
        bail!(
            "no account {:?} (--by names a county administrator)",
            args.by
        );
    };
    if admin.role != Role::CountyAdmin || admin.disabled {
        bail!(
            "{:?} is not an active county administrator: only they may erase personal data",
            args.by
        );
    }
    if args.reason.trim().is_empty() {
        bail!("--reason must say why the personal data is erased");
    }
    let cases = match (&args.case, &args.person) {
        (Some(case), _) => vec![case.clone()],
        (None, Some(person)) => {
            eprintln!("正在查找此人的案件 (looking for the person's cases)…");
            let found = store.cases_of_person(person.trim()).await?;
            if found.is_empty() {
                bail!("no case holds a person with that name or phone number");
            }
            found
        }
        (None, None) => bail!("give --case or --person"),
    };
    let total = cases.len();
    for (i, case) in cases.iter().enumerate() {
        match store
            .erase_case(case, &args.by, args.reason.trim(), now_ms())
            .await
        {
            Ok(Some(e)) => println!(
                "[{}/{total}] {} 个人信息已删除 (personal data erased): erasure {}, {} key(s) destroyed",
                i + 1,
                e.case,
                e.seq,
                e.keys.len()
            ),
            Ok(None) => bail!("no case {case:?}"),
            Err(StoreError::Refused { code, reason }) => bail!("{code}: {reason}"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
