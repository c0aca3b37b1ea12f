//! The shape ADR 0019 promises, checked on every run: no source file over 700 lines, and no
//! two top-level modules of a crate that import each other, directly or round a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 700;
/// Crate source roots, from the workspace root.
const CRATES: [&str; 5] = [
    "sync-core/src",
    "server/src",
    "mobile-ffi/src",
    "bench/src",
    "tests/kit/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without its `#[cfg(test)]` module (tests may use anything).
fn without_tests(src: &str) -> &str {
    src.find("#[cfg(test)]\nmod tests")
        .map_or(src, |at| &src[..at])
}

#[test]
fn no_source_file_is_over_700_lines() {
    let mut over = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&workspace().join(krate), &mut files);
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap();
            let lines = without_tests(&src).lines().count();
            if lines > MAX_LINES {
                over.push(format!("{} ({lines})", f.display()));
            }
        }
    }
    assert!(over.is_empty(), "over {MAX_LINES} lines: {over:?}");
}

/// The crate's top-level modules, and the names its root re-exports, by module.
fn modules_of(root: &Path) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = match path.is_dir() {
            true => name != "bin",
            false => path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main",
        };
        if module {
            modules.insert(name);
        }
    }
    let lib = std::fs::read_to_string(root.join("lib.rs")).unwrap_or_default();
    let mut reexported = BTreeMap::new();
    // `pub use module::{A, B};` and `pub use module::A;`, on one or several lines.
    for stmt in lib.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.split([',', '{', '}', ' ', '\n']) {
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if !name.is_empty() && modules.contains(module) {
                reexported.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    (modules, reexported)
}

/// Which top-level modules each top-level module uses, through `crate::…` paths.
fn module_graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let (modules, reexported) = modules_of(root);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in &modules {
        let dir = root.join(module);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(root.join(format!("{module}.rs")));
        }
        let uses = graph.entry(module.clone()).or_default();
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap();
            let src = without_tests(&src);
            for (at, _) in src.match_indices("crate::") {
                let after = &src[at + "crate::".len()..];
                let mut names: Vec<&str> = Vec::new();
                if let Some(list) = after.strip_prefix('{') {
                    names.extend(list.split('}').next().unwrap_or("").split(','));
                } else {
                    names.push(after);
                }
                for name in names {
                    let word: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let target = if modules.contains(&word) {
                        Some(word)
                    } else {
                        reexported.get(&word).cloned()
                    };
                    if let Some(t) = target.filter(|t| t != module) {
                        uses.insert(t);
                    }
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    for krate in CRATES {
        let graph = module_graph(&workspace().join(krate));
        assert!(graph.len() > 2, "{krate}: modules not found");
        if let Some(c) = circle(&graph) {
            panic!("{krate}: modules import each other: {}", c.join(" → "));
        }
    }
}

#[test]
fn the_cycle_check_sees_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("case", vec!["workflow"]),
        ("workflow", vec!["access"]),
        ("access", vec!["case"]),
        ("vocab", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        circle(&graph),
        Some(vec![
            "access".to_owned(),
            "case".to_owned(),
            "workflow".to_owned(),
            "access".to_owned()
        ])
    );
    let core = module_graph(&workspace().join("sync-core/src"));
    assert!(
        core["workflow"].contains("vocab") && core["case"].contains("workflow"),
        "the graph reads the core's imports: {core:?}"
    );
}
