//! 短信应急上报: an urgent case captured where there is voice and SMS but no data link, carried
//! as at most two SMS the phone sends itself, verified and opened by the server the moment the
//! gateway hands them over; the full case merges into it at the phone's next sync.
//!
//! Why the two become one case and not two: both sides build the case's first change from the
//! SMS alone ([`UrgentReport::stub`]), byte for byte alike — the device's actor, the reporter,
//! the time in whole seconds, a `reported` event whose id comes from the case id, the deadlines
//! of the rules version the phone held, the mark [`MARK_KEY`]. The phone rebuilds its unsent
//! copy on that change ([`rebuild_on`]); the server recognises the change by its hash when the
//! phone syncs and takes the rest as ordinary edits. The SMS carries the first characters of
//! that hash, so a server that would build another change refuses instead of opening a twin.
//!
//! The text (`docs/PROTOCOL.md`, "Urgent report by SMS"): one SMS `GS <fields> <title>` when
//! the title is plain ASCII and fits, else `GA <fields>` (ASCII, GSM 7-bit) and
//! `GB <link> <title>` (UCS-2 when the title is Chinese: at most 70 characters). The MAC is
//! HMAC-SHA256 under the device's SMS key over [`UrgentReport::canonical`], 64 bits.

use automerge::{ActorId, ChangeHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::access::Identity;
use crate::case::{Case, CaseDoc, Location, NewCase};
use crate::jurisdiction::JurisdictionPath;
use crate::vocab::{CaseKind, Millis};
use crate::workflow::{Deadlines, EventType};
use crate::{Error, Result};

/// The `extra` key (and [`MARK_VALUE`]) that marks a case reported by SMS (短信上报).
pub const MARK_KEY: &str = "reported_by";
pub const MARK_VALUE: &str = "sms";
/// An SMS report is at most this many messages.
pub const MAX_PARTS: usize = 2;
/// Characters of one SMS: GSM 7-bit, and UCS-2 (any Chinese character makes it UCS-2).
const GSM_CHARS: usize = 160;
const UCS2_CHARS: usize = 70;
const STUB_CHARS: usize = 6;
const MAC_CHARS: usize = 11;
const MAC_BYTES: usize = 8;
/// How part B names its part A: the first characters of the case id as sent.
const LINK_CHARS: usize = 8;
const FIELDS: usize = 10;

type HmacSha256 = Hmac<Sha256>;

/// The SMS key of a device: derived from the device secret its first sign-in received, so the
/// phone needs nothing new and the server keeps only the derived key (`devices.sms_key`).
pub fn sms_key(device_secret: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(device_secret.as_bytes()).expect("any key length");
    mac.update(b"gridsync sms key v1");
    mac.finalize().into_bytes().into()
}

/// The short name of a device in an SMS (8 characters): device ids are the app's to choose and
/// may be long; the server keeps the tag with the device (`devices.sms_tag`).
pub fn device_tag(device: &str) -> String {
    let digest = Sha256::digest(device.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..6])
}

/// Whether a case came in as an urgent SMS report.
pub fn reported_by_sms(case: &Case) -> bool {
    case.extra.get(MARK_KEY).map(String::as_str) == Some(MARK_VALUE)
}

/// What the SMS says: enough to open the case, route it and supervise it.
#[derive(Debug, Clone, PartialEq)]
pub struct UrgentReport {
    pub tag: String,
    pub case_id: String,
    pub kind: CaseKind,
    pub category: String,
    pub place: JurisdictionPath,
    /// Degrees, four decimals (about 11 m).
    pub lat_lon: Option<(f64, f64)>,
    /// Whole seconds, in ms.
    pub at: Millis,
    /// The rules version whose deadlines the first event carries.
    pub rules: u64,
    /// The first characters of the first change's hash ([`UrgentReport::stub_mark`]).
    pub stub: String,
    /// The title as sent (cut to fit).
    pub title: String,
}

/// A report and the MAC it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedReport {
    pub report: UrgentReport,
    pub mac: String,
}

/// One inbound SMS, read.
#[derive(Debug, Clone, PartialEq)]
pub enum SmsPart {
    /// The whole report in one message.
    Whole(SignedReport),
    /// Part A: everything but the title, which part B brings.
    Head(SignedReport),
    /// Part B: the title, and the link to its part A.
    Tail { link: String, title: String },
}

impl SmsPart {
    /// The key parts A and B of one report share.
    pub fn link(&self) -> String {
        match self {
            SmsPart::Whole(s) | SmsPart::Head(s) => s.link(),
            SmsPart::Tail { link, .. } => link.clone(),
        }
    }
}

impl UrgentReport {
    /// The report of a case captured on this device and never sent: only a case whose log holds
    /// nothing after its report can go by SMS (later steps would not rebuild on the stub).
    pub fn of_case(case: &Case, device: &str, rules: u64) -> Result<UrgentReport> {
        if case.events.len() != 1 || case.events[0].kind != EventType::Reported {
            return Err(not_sendable(
                "only a case with no steps after its report can go by SMS",
            ));
        }
        if case.reporter.device != device {
            return Err(not_sendable("the case was captured on another device"));
        }
        let id64 = encode_id(&case.id)?;
        let lat_lon = match (case.location.lat, case.location.lon) {
            (Some(lat), Some(lon)) => Some((round4(lat), round4(lon))),
            _ => None,
        };
        let mut report = UrgentReport {
            tag: device_tag(device),
            case_id: case.id.clone(),
            kind: case.kind,
            category: case.category.clone(),
            place: case.jurisdiction.clone(),
            lat_lon,
            at: case.created_at.div_euclid(1000) * 1000,
            rules,
            stub: "A".repeat(STUB_CHARS),
            title: String::new(),
        };
        let head_len = report.fields_line("M").chars().count() + 3;
        if head_len > GSM_CHARS {
            return Err(not_sendable(
                "the category and place are too long for an SMS",
            ));
        }
        report.title = fit_title(&case.title, head_len, &id64);
        Ok(report)
    }

    /// The case's first change, as the phone and the server both build it: `actor` is the
    /// device's, `by` the reporter, `deadlines` those of rules version [`UrgentReport::rules`].
    pub fn stub(
        &self,
        actor: ActorId,
        by: &Identity,
        deadlines: &Deadlines<'_>,
    ) -> Result<(CaseDoc, ChangeHash)> {
        let (lat, lon) = match self.lat_lon {
            Some((lat, lon)) => (Some(lat), Some(lon)),
            None => (None, None),
        };
        let new = NewCase {
            kind: self.kind,
            jurisdiction: self.place.clone(),
            category: self.category.clone(),
            title: self.title.clone(),
            description: String::new(),
            location: Location {
                lat,
                lon,
                accuracy_m: None,
                address: String::new(),
            },
            people: Vec::new(),
        };
        let event_id =
            hex(&Sha256::digest(format!("gridsync sms reported {}", self.case_id))[..16]);
        CaseDoc::create_exactly(
            actor,
            &self.case_id,
            &new,
            by,
            self.at,
            deadlines,
            &event_id,
            (MARK_KEY, MARK_VALUE),
        )
    }

    /// What the SMS carries of the first change's hash.
    pub fn stub_mark(hash: &ChangeHash) -> String {
        URL_SAFE_NO_PAD.encode(hash.0)[..STUB_CHARS].to_owned()
    }

    /// The bytes the MAC covers: every field and the whole title.
    pub fn canonical(&self) -> String {
        format!(
            "gs1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.tag,
            self.case_id,
            self.kind.as_str(),
            self.category,
            self.place,
            self.location_field(),
            self.at,
            self.rules,
            self.stub,
            self.title
        )
    }

    /// The MAC under a device's SMS key.
    pub fn mac(&self, key: &[u8; 32]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
        mac.update(self.canonical().as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..MAC_BYTES])
    }

    /// The one or two SMS texts, signed with the device's SMS key.
    pub fn texts(&self, key: &[u8; 32]) -> Vec<String> {
        let fields = self.fields_line(&self.mac(key));
        let single = format!("GS {fields} {}", self.title);
        if gsm_safe(&self.title) && single.chars().count() <= GSM_CHARS {
            return vec![single];
        }
        let link = link_of(&self.case_id);
        vec![format!("GA {fields}"), format!("GB {link} {}", self.title)]
    }

    /// The fields of an SMS in order, the MAC last.
    fn fields_line(&self, mac: &str) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {} {mac}",
            self.tag,
            encode_id(&self.case_id).unwrap_or_default(),
            kind_digit(self.kind),
            self.category,
            self.place,
            self.location_field(),
            radix36((self.at / 1000).max(0) as u64),
            radix36(self.rules),
            self.stub,
        )
    }

    fn location_field(&self) -> String {
        match self.lat_lon {
            Some((lat, lon)) => format!("{lat:.4},{lon:.4}"),
            None => "-".to_owned(),
        }
    }
}

impl SignedReport {
    /// Whether the MAC is the device's over this report (constant time).
    pub fn verify(&self, key: &[u8; 32]) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(&self.mac) else {
            return false;
        };
        if given.len() != MAC_BYTES {
            return false;
        }
        let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
        mac.update(self.report.canonical().as_bytes());
        mac.verify_truncated_left(&given).is_ok()
    }

    /// The key a part B names its part A by.
    pub fn link(&self) -> String {
        link_of(&self.report.case_id)
    }

    /// Part A completed by part B's title.
    pub fn with_title(mut self, title: &str) -> SignedReport {
        self.report.title = title.to_owned();
        self
    }
}

/// Reads one inbound SMS text. Anything that is not a well-formed part is `sms_malformed`.
pub fn parse(text: &str) -> Result<SmsPart> {
    let text = text.trim_end_matches(['\r', '\n']);
    let (head, rest) = text
        .split_once(' ')
        .ok_or_else(|| malformed("not a gridsync SMS report"))?;
    match head {
        "GS" | "GA" => {
            let parts: Vec<&str> = rest.splitn(FIELDS + 1, ' ').collect();
            let title = match (head, parts.len()) {
                ("GS", n) if n == FIELDS + 1 => parts[FIELDS],
                ("GA", n) if n == FIELDS => "",
                _ => return Err(malformed("wrong number of fields")),
            };
            let signed = read_fields(&parts[..FIELDS], title)?;
            Ok(if head == "GS" {
                SmsPart::Whole(signed)
            } else {
                SmsPart::Head(signed)
            })
        }
        "GB" => {
            let (link, title) = rest
                .split_once(' ')
                .ok_or_else(|| malformed("part B without a title"))?;
            if link.len() != LINK_CHARS || title.is_empty() {
                return Err(malformed("part B is malformed"));
            }
            Ok(SmsPart::Tail {
                link: link.to_owned(),
                title: title.to_owned(),
            })
        }
        _ => Err(malformed("not a gridsync SMS report")),
    }
}

fn read_fields(f: &[&str], title: &str) -> Result<SignedReport> {
    let [tag, id64, kind, category, place, loc, at, rules, stub, mac] = f else {
        return Err(malformed("wrong number of fields"));
    };
    let kind = kind
        .parse::<usize>()
        .ok()
        .and_then(|i| CaseKind::ALL.get(i).copied())
        .ok_or_else(|| malformed("unknown kind"))?;
    let lat_lon = match *loc {
        "-" => None,
        s => {
            let (lat, lon) = s.split_once(',').ok_or_else(|| malformed("bad location"))?;
            let lat: f64 = lat.parse().map_err(|_| malformed("bad latitude"))?;
            let lon: f64 = lon.parse().map_err(|_| malformed("bad longitude"))?;
            if !(lat.is_finite() && lon.is_finite()) {
                return Err(malformed("bad location"));
            }
            Some((lat, lon))
        }
    };
    let seconds = u64::from_str_radix(at, 36).map_err(|_| malformed("bad time"))?;
    let at = i64::try_from(seconds)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .ok_or_else(|| malformed("bad time"))?;
    let report = UrgentReport {
        tag: (*tag).to_owned(),
        case_id: decode_id(id64)?,
        kind,
        category: (*category).to_owned(),
        place: JurisdictionPath::parse(place).map_err(|_| malformed("bad place"))?,
        lat_lon,
        at,
        rules: u64::from_str_radix(rules, 36).map_err(|_| malformed("bad rules version"))?,
        stub: (*stub).to_owned(),
        title: title.to_owned(),
    };
    if report.tag.len() != 8 || report.stub.len() != STUB_CHARS || mac.len() != MAC_CHARS {
        return Err(malformed("a field has the wrong length"));
    }
    Ok(SignedReport {
        report,
        mac: (*mac).to_owned(),
    })
}

/// Rebuilds a case captured on the phone on the stub its SMS describes: everything the SMS
/// could not carry (the whole title, description, exact place, people, photos, extra fields,
/// mediation) in one change on top. Returns the new change, if any.
pub fn rebuild_on(
    stub: &mut CaseDoc,
    original: &Case,
    by: &Identity,
    at: Millis,
) -> Result<Option<ChangeHash>> {
    let short = stub.read()?;
    stub.edit(by, at, |e| {
        if original.title != short.title {
            e.set_title(&original.title)?;
        }
        if !original.description.is_empty() {
            e.set_description(&original.description)?;
        }
        if original.location != short.location {
            e.set_location(&original.location)?;
        }
        for p in &original.people {
            e.add_person(p)?;
        }
        for a in &original.attachments {
            e.add_attachment(a)?;
        }
        for (k, v) in &original.extra {
            if k != MARK_KEY {
                e.set_extra(k, v)?;
            }
        }
        for s in &original.mediation.sessions {
            e.add_mediation_session(s)?;
        }
        if !original.mediation.agreement.is_empty() {
            e.set_agreement(&original.mediation.agreement)?;
        }
        if !original.mediation.result.is_empty() {
            e.set_mediation_result(&original.mediation.result, &original.mediation.referral)?;
        }
        Ok(())
    })
}

fn not_sendable(reason: &str) -> Error {
    Error::Sms {
        code: "sms_not_sendable",
        reason: reason.to_owned(),
    }
}

fn malformed(reason: &str) -> Error {
    Error::Sms {
        code: "sms_malformed",
        reason: reason.to_owned(),
    }
}

/// A case id (a UUID) in 22 characters.
fn encode_id(id: &str) -> Result<String> {
    let uuid = uuid::Uuid::parse_str(id).map_err(|_| malformed("bad case id"))?;
    if uuid.to_string() != id {
        return Err(not_sendable("the case id is not in canonical form"));
    }
    Ok(URL_SAFE_NO_PAD.encode(uuid.as_bytes()))
}

fn link_of(case_id: &str) -> String {
    encode_id(case_id)
        .unwrap_or_default()
        .chars()
        .take(LINK_CHARS)
        .collect()
}

fn decode_id(s: &str) -> Result<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| malformed("bad case id"))?;
    let uuid = uuid::Uuid::from_slice(&bytes).map_err(|_| malformed("bad case id"))?;
    Ok(uuid.to_string())
}

fn kind_digit(kind: CaseKind) -> usize {
    CaseKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn radix36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Characters every phone sends as GSM 7-bit, one septet each (a conservative subset).
fn gsm_safe(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || " .,-_:/()!?'\"+*#%&;=<>@$".contains(c))
}

/// The title cut to what the SMS has room for: after the fields in one GSM SMS, or alone in
/// part B (70 UTF-16 units when it is not plain ASCII).
fn fit_title(title: &str, head_len: usize, id64: &str) -> String {
    let title = title.trim();
    let room_single = GSM_CHARS.saturating_sub(head_len + 1);
    if gsm_safe(title) && title.chars().count() <= room_single {
        return title.to_owned();
    }
    let prefix = 3 + id64[..LINK_CHARS].len() + 1;
    let budget = if gsm_safe(title) {
        GSM_CHARS - prefix
    } else {
        UCS2_CHARS - prefix
    };
    let mut out = String::new();
    let mut units = 0;
    for c in title.chars() {
        units += c.len_utf16();
        if units > budget {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix36_round_trips() {
        for n in [0u64, 1, 35, 36, 1_733_400_000] {
            assert_eq!(u64::from_str_radix(&radix36(n), 36).unwrap(), n);
        }
    }

    #[test]
    fn case_ids_round_trip_in_22_characters() {
        let id = crate::vocab::new_case_id();
        let short = encode_id(&id).unwrap();
        assert_eq!(short.len(), 22);
        assert_eq!(decode_id(&short).unwrap(), id);
    }

    #[test]
    fn a_chinese_title_is_cut_to_fit_part_b() {
        let title: String = "村口仓库冒烟有明火".repeat(10);
        let cut = fit_title(&title, 120, "abcdefghijklmnopqrstuv");
        assert!(cut.encode_utf16().count() <= UCS2_CHARS - 12);
        assert!(title.starts_with(&cut));
    }
}
