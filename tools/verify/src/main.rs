//! `gridsync-verify FILE`: checks a case export (`gridsync case export`, or the console's
//! 导出可验证记录) offline with nothing but the file, and prints who wrote what, when and on
//! which device. Exit 0: the file holds; 1: it does not (the reason on standard error); 2: it
//! could not be read.

use std::process::ExitCode;

use gridsync_core::evidence::export::{VerifiedCase, verify};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: gridsync-verify FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    match verify(&bytes) {
        Ok(case) => {
            print!("{}", describe(&case));
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("校验失败 (verification failed): {reason}");
            ExitCode::from(1)
        }
    }
}

/// The report people read: the case, the server key to compare, and one line per change.
fn describe(case: &VerifiedCase) -> String {
    let mut out = format!(
        "案件 case {}\n导出 exported at {} by {}\n服务器密钥 server key {}\n",
        case.case,
        utc(case.exported_at),
        case.exported_by,
        case.server_key
    );
    if let Some((seq, hash)) = &case.last_receipt {
        out.push_str(&format!("最后回执 last receipt {seq} {hash}\n"));
    }
    for c in &case.changes {
        let who = c
            .author
            .as_ref()
            .map(|a| format!("{} ({})", a.user, a.role))
            .unwrap_or_else(|| "?".into());
        let received = c
            .received_at
            .map(utc)
            .unwrap_or_else(|| "before the receipt log".into());
        let signed = match &c.signed_by {
            Some(by) => format!("已验签 signed by {by}"),
            None => "未签名 unsigned".into(),
        };
        out.push_str(&format!(
            "{} {} made {} on device {}, received {}, {}\n",
            &c.hash[..12],
            who,
            utc(c.made_at),
            c.device,
            received,
            signed
        ));
    }
    out.push_str(&format!(
        "校验通过 (all {} changes hold)\n",
        case.changes.len()
    ));
    out
}

/// Milliseconds since the epoch as UTC, `2026-12-06 04:31:07Z` (civil-from-days, no crates).
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(1_796_531_467_000), "2026-12-06 04:31:07Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
    }
}
