//! The jurisdiction tree from a CSV a county office can export (`gridsync org import`).
//!
//! # Format
//!
//! - UTF-8; a leading byte-order mark (Excel's "CSV UTF-8" writes one) is stripped. A file saved
//!   as plain "CSV" by a Chinese Excel is GBK and is refused with a hint to save it as UTF-8.
//! - A header row naming the eight columns, in English or in Chinese (any order, either language
//!   per column; extra columns are ignored):
//!
//!   | English         | Chinese   |
//!   | --------------- | --------- |
//!   | `county_code`   | 县编码    |
//!   | `county_name`   | 县名称    |
//!   | `township_code` | 乡镇编码  |
//!   | `township_name` | 乡镇名称  |
//!   | `village_code`  | 村编码    |
//!   | `village_name`  | 村名称    |
//!   | `grid_code`     | 网格编码  |
//!   | `grid_name`     | 网格名称  |
//!
//! - One row per grid; or per village with the two grid columns empty; or per township with the
//!   village and grid columns empty. A code is the node's own segment of the path
//!   (`130533`, `100`, `201`, `01`), not the full 12-digit division code: ASCII letters, digits,
//!   `-` and `_`, at most 32 characters. Every code present needs its name.
//! - Every node on a row (county, township, … down to the row's deepest level) is imported with
//!   its name. A node repeated on many rows must have the same name on all of them.
//! - Spaces around fields are ignored, and so are rows whose fields are all empty.
//!
//! ```text
//! county_code,county_name,township_code,township_name,village_code,village_name,grid_code,grid_name
//! 130533,威县,100,洺州镇,201,东街村,01,东街村第一网格
//! 130533,威县,100,洺州镇,201,东街村,02,东街村第二网格
//! 130533,威县,100,洺州镇,202,西街村,,
//! ```
//!
//! [`parse_org_csv`] reads and checks the whole file first; the caller writes the result in one
//! transaction ([`crate::store::Store::import_org_units`]), so a bad file writes nothing.

use std::collections::BTreeMap;
use std::io::{self, Read};

use gridsync_core::{JurisdictionPath, Level};

/// One node of the jurisdiction tree and its name.
pub type OrgUnit = (JurisdictionPath, String);

/// The format, as `gridsync org import --help` shows it.
pub const FORMAT_HELP: &str = "\
Imports the jurisdiction tree (county → township → village → grid) from a CSV file.

The file is UTF-8 (a leading BOM, as Excel's \"CSV UTF-8\" writes, is fine; save as
\"CSV UTF-8 (逗号分隔)\", not plain \"CSV\", which is GBK). The first row is a header naming
these columns, in English or Chinese, in any order:

  county_code   县编码      county_name   县名称
  township_code 乡镇编码    township_name 乡镇名称
  village_code  村编码      village_name  村名称
  grid_code     网格编码    grid_name     网格名称

Then one row per grid; or per village with the two grid columns empty; or per township with
the village and grid columns empty. Codes are each node's own segment (e.g. 130533, 100, 201,
01): ASCII letters, digits, '-' and '_', at most 32 characters; every code needs its name.
Every node on a row is imported (added, or renamed if it exists); a node repeated on many rows
must have the same name on each. The whole file is checked first: a bad row is reported with
its line number and nothing is written.

Example:
  county_code,county_name,township_code,township_name,village_code,village_name,grid_code,grid_name
  130533,威县,100,洺州镇,201,东街村,01,东街村第一网格
  130533,威县,100,洺州镇,202,西街村,,";

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a file cannot be imported. `line` is the file's 1-based line number (the header is
/// line 1).
#[derive(Debug, thiserror::Error)]
pub enum OrgImportError {
    #[error("reading the file: {0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {reason}")]
    Csv { line: u64, reason: String },
    #[error(
        "line {line} is not UTF-8: save the file as \"CSV UTF-8 (逗号分隔)\" (Excel's plain CSV is GBK)"
    )]
    NotUtf8 { line: u64 },
    #[error("the file is empty: it needs a header row and at least one row")]
    Empty,
    #[error("line {line}: header: {reason}")]
    Header { line: u64, reason: String },
    #[error("the file has a header but no rows")]
    NoRows,
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: String },
    #[error("line {line}: {path} is named {name:?} here but {first_name:?} on line {first_line}")]
    NameConflict {
        path: JurisdictionPath,
        line: u64,
        name: String,
        first_line: u64,
        first_name: String,
    },
}

impl OrgImportError {
    /// The line the error is on, when it is on one.
    pub fn line(&self) -> Option<u64> {
        match self {
            Self::Csv { line, .. }
            | Self::NotUtf8 { line }
            | Self::Header { line, .. }
            | Self::Row { line, .. }
            | Self::NameConflict { line, .. } => Some(*line),
            Self::Io(_) | Self::Empty | Self::NoRows => None,
        }
    }
}

/// Levels top down, with their column names (English, Chinese) for code and name.
const COLUMNS: [(Level, [&str; 2], [&str; 2]); 4] = [
    (
        Level::County,
        ["county_code", "县编码"],
        ["county_name", "县名称"],
    ),
    (
        Level::Township,
        ["township_code", "乡镇编码"],
        ["township_name", "乡镇名称"],
    ),
    (
        Level::Village,
        ["village_code", "村编码"],
        ["village_name", "村名称"],
    ),
    (
        Level::Grid,
        ["grid_code", "网格编码"],
        ["grid_name", "网格名称"],
    ),
];

/// Parses and checks a whole file; see the [module docs](self) for the format. The units come
/// back deduplicated and in tree order (each parent before its children).
pub fn parse_org_csv<R: Read>(reader: R) -> Result<Vec<OrgUnit>, OrgImportError> {
    parse_org_csv_with_progress(reader, |_| {})
}

/// [`parse_org_csv`], calling `progress` with the number of data rows read after every 1,000.
pub fn parse_org_csv_with_progress<R: Read>(
    reader: R,
    mut progress: impl FnMut(u64),
) -> Result<Vec<OrgUnit>, OrgImportError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(strip_bom(reader)?);
    let mut record = csv::ByteRecord::new();

    // The header: the first non-blank record.
    let columns = loop {
        if !read(&mut csv, &mut record)? {
            return Err(OrgImportError::Empty);
        }
        let line = line_of(&record);
        let fields = decode(&record, line)?;
        if fields.iter().all(String::is_empty) {
            continue;
        }
        break header_columns(&fields, line)?;
    };

    // Path → (name, first line seen).
    let mut units: BTreeMap<JurisdictionPath, (String, u64)> = BTreeMap::new();
    let mut rows = 0u64;
    while read(&mut csv, &mut record)? {
        let line = line_of(&record);
        let fields = decode(&record, line)?;
        if fields.iter().all(String::is_empty) {
            continue;
        }
        for (path, name) in row_units(&fields, &columns, line)? {
            match units.get(&path) {
                Some((first_name, first_line)) if *first_name != name => {
                    return Err(OrgImportError::NameConflict {
                        path,
                        line,
                        name,
                        first_line: *first_line,
                        first_name: first_name.clone(),
                    });
                }
                Some(_) => {}
                None => {
                    units.insert(path, (name, line));
                }
            }
        }
        rows += 1;
        if rows.is_multiple_of(1000) {
            progress(rows);
        }
    }
    if rows == 0 {
        return Err(OrgImportError::NoRows);
    }
    Ok(units
        .into_iter()
        .map(|(path, (name, _))| (path, name))
        .collect())
}

/// Counts per level, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgSummary {
    pub counties: usize,
    pub townships: usize,
    pub villages: usize,
    pub grids: usize,
}

impl OrgSummary {
    pub fn of(units: &[OrgUnit]) -> OrgSummary {
        let mut s = OrgSummary::default();
        for (path, _) in units {
            match path.level() {
                Level::County => s.counties += 1,
                Level::Township => s.townships += 1,
                Level::Village => s.villages += 1,
                Level::Grid => s.grids += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.counties + self.townships + self.villages + self.grids
    }

    /// `导入 N 个单位: 1 县, 16 乡镇, 522 村, 960 网格`
    pub fn zh(&self) -> String {
        format!(
            "导入 {} 个单位: {} 县, {} 乡镇, {} 村, {} 网格",
            self.total(),
            self.counties,
            self.townships,
            self.villages,
            self.grids
        )
    }

    /// `imported N units: 1 county, 16 townships, 522 villages, 960 grids`
    pub fn en(&self) -> String {
        let n = |count: usize, one: &str, many: &str| {
            format!("{count} {}", if count == 1 { one } else { many })
        };
        format!(
            "imported {}: {}, {}, {}, {}",
            n(self.total(), "unit", "units"),
            n(self.counties, "county", "counties"),
            n(self.townships, "township", "townships"),
            n(self.villages, "village", "villages"),
            n(self.grids, "grid", "grids")
        )
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The reader without a leading UTF-8 byte-order mark.
fn strip_bom<R: Read>(mut reader: R) -> io::Result<io::Chain<io::Cursor<Vec<u8>>, R>> {
    let mut head = Vec::with_capacity(BOM.len());
    while head.len() < BOM.len() {
        let mut byte = [0u8; 1];
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if !BOM.starts_with(&head) {
            break;
        }
    }
    if head == BOM {
        head.clear();
    }
    Ok(io::Cursor::new(head).chain(reader))
}

fn read<R: Read>(
    csv: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
) -> Result<bool, OrgImportError> {
    csv.read_byte_record(record).map_err(|e| {
        let line = e.position().map_or(0, csv::Position::line);
        match e.into_kind() {
            csv::ErrorKind::Io(io) => OrgImportError::Io(io),
            other => OrgImportError::Csv {
                line,
                reason: format!("{other:?}"),
            },
        }
    })
}

fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// The record's fields as trimmed strings.
fn decode(record: &csv::ByteRecord, line: u64) -> Result<Vec<String>, OrgImportError> {
    record
        .iter()
        .map(|f| {
            std::str::from_utf8(f)
                .map(|s| s.trim().to_owned())
                .map_err(|_| OrgImportError::NotUtf8 { line })
        })
        .collect()
}

/// For each level top down, the indexes of its code and name columns.
type Columns = [(Level, usize, usize); 4];

fn header_columns(fields: &[String], line: u64) -> Result<Columns, OrgImportError> {
    let find = |names: [&str; 2]| -> Result<usize, OrgImportError> {
        let mut hits = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.eq_ignore_ascii_case(names[0]) || f.as_str() == names[1]);
        let Some((i, _)) = hits.next() else {
            return Err(OrgImportError::Header {
                line,
                reason: format!(
                    "no column {} ({}); the columns are county_code,county_name,township_code,\
                     township_name,village_code,village_name,grid_code,grid_name \
                     (or 县编码,县名称,乡镇编码,乡镇名称,村编码,村名称,网格编码,网格名称)",
                    names[0], names[1]
                ),
            });
        };
        if hits.next().is_some() {
            return Err(OrgImportError::Header {
                line,
                reason: format!("column {} ({}) appears twice", names[0], names[1]),
            });
        }
        Ok(i)
    };
    let mut columns = [(Level::County, 0, 0); 4];
    for (slot, (level, code, name)) in columns.iter_mut().zip(COLUMNS) {
        *slot = (level, find(code)?, find(name)?);
    }
    Ok(columns)
}

/// The nodes a data row names, top down.
fn row_units(
    fields: &[String],
    columns: &Columns,
    line: u64,
) -> Result<Vec<OrgUnit>, OrgImportError> {
    let row_err = |reason: String| OrgImportError::Row { line, reason };
    let field = |i: usize| fields.get(i).map_or("", String::as_str);
    let mut units = Vec::new();
    let mut codes: Vec<&str> = Vec::new();
    // The first level left empty: nothing below it may be filled in.
    let mut stopped_at: Option<Level> = None;
    for &(level, code_col, name_col) in columns {
        let (code, name) = (field(code_col), field(name_col));
        let what = level.as_str();
        match (code.is_empty(), name.is_empty()) {
            (true, true) => {
                if level == Level::County {
                    return Err(row_err("county_code (县编码) is empty".into()));
                }
                stopped_at.get_or_insert(level);
                continue;
            }
            (false, true) => {
                return Err(row_err(format!(
                    "{what} {code:?} has no name ({what}_name is empty)"
                )));
            }
            (true, false) => {
                return Err(row_err(format!(
                    "{what} {name:?} has no code ({what}_code is empty)"
                )));
            }
            (false, false) => {}
        }
        if let Some(empty) = stopped_at {
            return Err(row_err(format!(
                "{what} {code:?} is given but its {empty} is empty"
            )));
        }
        check_code(code, what).map_err(row_err)?;
        check_name(name, what).map_err(row_err)?;
        codes.push(code);
        let path = JurisdictionPath::new(codes.iter().copied())
            .map_err(|e| row_err(format!("{what} code {code:?}: {e}")))?;
        units.push((path, name.to_owned()));
    }
    Ok(units)
}

fn check_code(code: &str, what: &str) -> Result<(), String> {
    // JurisdictionPath checks it again; this gives the reason in words and a hint for the
    // commonest mistake, Excel turning a long code into a number.
    if code.contains(['E', 'e']) && code.contains('+') && code.contains('.') {
        return Err(format!(
            "{what} code {code:?} looks like a number Excel reformatted: set the column to Text and export again"
        ));
    }
    if code.len() > 32 {
        return Err(format!("{what} code {code:?} is longer than 32 characters"));
    }
    if let Some(c) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{what} code {code:?} has {c:?}: codes are ASCII letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "{what} name {name:?} is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} name {name:?} has a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = "county_code,county_name,township_code,township_name,village_code,village_name,grid_code,grid_name\n";
    const ZH: &str = "县编码,县名称,乡镇编码,乡镇名称,村编码,村名称,网格编码,网格名称\n";

    fn parse(s: &str) -> Result<Vec<OrgUnit>, OrgImportError> {
        parse_org_csv(s.as_bytes())
    }

    fn listed(units: &[OrgUnit]) -> Vec<String> {
        units
            .iter()
            .map(|(p, n)| format!("{p} {} {n}", p.level()))
            .collect()
    }

    const ROWS: &str = "\
130533,威县,100,洺州镇,201,东街村,01,东街第一网格
130533,威县,100,洺州镇,201,东街村,02,东街第二网格
130533,威县,101,贺营镇,203,前营村,01,前营第一网格
";

    fn expected() -> Vec<&'static str> {
        vec![
            "130533 county 威县",
            "130533/100 township 洺州镇",
            "130533/100/201 village 东街村",
            "130533/100/201/01 grid 东街第一网格",
            "130533/100/201/02 grid 东街第二网格",
            "130533/101 township 贺营镇",
            "130533/101/203 village 前营村",
            "130533/101/203/01 grid 前营第一网格",
        ]
    }

    #[test]
    fn english_header_every_node_once_in_tree_order() {
        let units = parse(&format!("{EN}{ROWS}")).unwrap();
        assert_eq!(listed(&units), expected());
        let s = OrgSummary::of(&units);
        assert_eq!(
            s,
            OrgSummary {
                counties: 1,
                townships: 2,
                villages: 2,
                grids: 3
            }
        );
        assert_eq!(s.zh(), "导入 8 个单位: 1 县, 2 乡镇, 2 村, 3 网格");
        assert_eq!(
            s.en(),
            "imported 8 units: 1 county, 2 townships, 2 villages, 3 grids"
        );
    }

    #[test]
    fn chinese_header_gives_the_same_tree() {
        let units = parse(&format!("{ZH}{ROWS}")).unwrap();
        assert_eq!(listed(&units), expected());
    }

    #[test]
    fn excel_bom_crlf_spaces_and_blank_rows_are_fine() {
        let text = format!("\u{feff}{ZH}{ROWS}\n,,,,,,,\n").replace('\n', "\r\n");
        let text = text.replace("洺州镇,201", " 洺州镇 , 201 ");
        let units = parse(&text).unwrap();
        assert_eq!(listed(&units), expected());
    }

    #[test]
    fn bom_before_english_header() {
        let units = parse(&format!("\u{feff}{EN}{ROWS}")).unwrap();
        assert_eq!(listed(&units), expected());
    }

    #[test]
    fn columns_may_come_in_any_order_and_extras_are_ignored() {
        let text = "备注,grid_name,grid_code,village_name,village_code,township_name,township_code,county_name,county_code\n\
                    x,东街第一网格,01,东街村,201,洺州镇,100,威县,130533\n";
        let units = parse(text).unwrap();
        assert_eq!(units.len(), 4);
        assert_eq!(units[3].0.to_string(), "130533/100/201/01");
        assert_eq!(units[3].1, "东街第一网格");
    }

    #[test]
    fn village_and_township_rows_without_grids() {
        let text = format!(
            "{EN}130533,威县,100,洺州镇,201,东街村,,\n\
             130533,威县,100,洺州镇,202,西街村\n\
             130533,威县,102,方家营镇,,,,\n"
        );
        let units = parse(&text).unwrap();
        assert_eq!(
            listed(&units),
            vec![
                "130533 county 威县",
                "130533/100 township 洺州镇",
                "130533/100/201 village 东街村",
                "130533/100/202 village 西街村",
                "130533/102 township 方家营镇",
            ]
        );
        assert_eq!(OrgSummary::of(&units).grids, 0);
    }

    #[test]
    fn a_bad_code_is_refused_with_its_line_number() {
        let text = format!("{EN}{ROWS}130533,威县,100,洺州镇,2 01,南街村,01,南街第一网格\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line(), Some(5));
        let msg = err.to_string();
        assert!(msg.starts_with("line 5: village code \"2 01\""), "{msg}");

        let text = format!("{EN}130533,威县,100,洺州镇,村201,南街村,,\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line(), Some(2), "{err}");

        let long = "9".repeat(33);
        let err = parse(&format!("{EN}{long},县,,,,,,\n")).unwrap_err();
        assert!(err.to_string().contains("longer than 32"), "{err}");
    }

    #[test]
    fn excel_scientific_notation_gets_a_hint() {
        let err = parse(&format!("{EN}1.30533E+11,威县,,,,,,\n")).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert!(err.to_string().contains("Text"), "{err}");
    }

    #[test]
    fn conflicting_names_name_both_lines() {
        let text = format!("{EN}{ROWS}130533,威县,101,贺营乡,204,后营村,01,后营第一网格\n");
        let err = parse(&text).unwrap_err();
        match &err {
            OrgImportError::NameConflict {
                path,
                line,
                name,
                first_line,
                first_name,
            } => {
                assert_eq!(path.to_string(), "130533/101");
                assert_eq!((*line, name.as_str()), (5, "贺营乡"));
                assert_eq!((*first_line, first_name.as_str()), (4, "贺营镇"));
            }
            other => panic!("{other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("line 5") && msg.contains("line 4"), "{msg}");
    }

    #[test]
    fn incomplete_rows_are_refused() {
        for (row, needle) in [
            (",威县,100,洺州镇,,,,", "county_code"),
            ("130533,,100,洺州镇,,,,", "has no name"),
            ("130533,威县,100,,,,,", "has no name"),
            ("130533,威县,,洺州镇,,,,", "has no code"),
            ("130533,威县,,,201,东街村,,", "its township is empty"),
            ("130533,威县,100,洺州镇,,,01,网格", "its village is empty"),
        ] {
            let err = parse(&format!("{EN}{row}\n")).unwrap_err();
            assert_eq!(err.line(), Some(2), "{row}: {err}");
            assert!(err.to_string().contains(needle), "{row}: {err}");
        }
    }

    #[test]
    fn header_problems_and_empty_files() {
        assert!(matches!(parse(""), Err(OrgImportError::Empty)));
        assert!(matches!(parse("\u{feff}"), Err(OrgImportError::Empty)));
        assert!(matches!(parse(EN), Err(OrgImportError::NoRows)));
        let err = parse("county_code,county_name\n130533,威县\n").unwrap_err();
        assert!(
            matches!(err, OrgImportError::Header { line: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("township_code"), "{err}");
        let err = parse(&format!("grid_code,{EN}")).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn gbk_is_refused_with_a_hint() {
        // "威县" in GBK.
        let mut bytes = EN.as_bytes().to_vec();
        bytes.extend_from_slice(b"130533,\xCD\xFE\xCF\xD8,,,,,,\n");
        let err = parse_org_csv(&bytes[..]).unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn quoted_fields_and_line_numbers_after_a_multiline_field() {
        // A remark column (ignored) whose quoted text runs over two lines.
        let header = EN.trim_end().to_owned() + ",备注\n";
        let text = format!(
            "{header}130533,\"威县\",100,\"洺州镇\",201,\"东街村\",,,\"新村\n合并\"\n\
             130533,威县,100,洺州镇,202,西街村,,,\n\
             130533,威县,100,洺州镇,2#3,北街村,,,\n"
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line(), Some(5), "{err}");
        let units = parse(&text.replace("2#3", "203")).unwrap();
        assert_eq!(units.len(), 5);
        assert_eq!(units[2].1, "东街村");
    }

    #[test]
    fn progress_is_reported_every_thousand_rows() {
        let mut text = EN.to_owned();
        for v in 0..25 {
            for g in 0..100 {
                text.push_str(&format!(
                    "130533,威县,100,洺州镇,{v:03},村{v},{g:02},网格{g}\n"
                ));
            }
        }
        let mut seen = Vec::new();
        let units = parse_org_csv_with_progress(text.as_bytes(), |n| seen.push(n)).unwrap();
        assert_eq!(seen, vec![1000, 2000]);
        assert_eq!(units.len(), 1 + 1 + 25 + 2500);
    }

    #[test]
    fn the_shipped_sample_parses() {
        let sample = include_str!("../examples/org-sample.csv");
        let units = parse(sample).unwrap();
        let s = OrgSummary::of(&units);
        assert_eq!(
            (s.counties, s.townships, s.villages, s.grids),
            (1, 3, 12, 24)
        );
    }
}
