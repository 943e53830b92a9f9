//! SNOMED CT from an RF2 snapshot folder (searched recursively):
//! `sct2_Concept_Snapshot_*.txt` (concepts and their `active` flag),
//! `sct2_Description_Snapshot-*.txt` (terms; active ones become
//! designations), `sct2_Relationship_Snapshot_*.txt` (active `116680003 |Is a|`
//! rows become the hierarchy `is-a` filters use) and, when present,
//! `der2_cRefset_LanguageSnapshot-*.txt` (the preferred synonym becomes the
//! display; without it the fully specified name without its semantic tag).
//! The version is the release date from the concept file's name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::super::codesystem::{CodeSystemIndex, Concept, Designation};
use super::{read, LoadError};

pub const URL: &str = "http://snomed.info/sct";
const IS_A: &str = "116680003";
const FSN: &str = "900000000000003001";
const PREFERRED: &str = "900000000000548007";

pub fn load(dir: &Path) -> Result<CodeSystemIndex, LoadError> {
    let files = find_files(dir)?;
    let find = |prefix: &str| files.iter().find(|f| file_name(f).starts_with(prefix)).cloned();
    let concepts =
        find("sct2_Concept_Snapshot").ok_or_else(|| LoadError::Missing("sct2_Concept_Snapshot file".into()))?;
    let descriptions =
        find("sct2_Description_Snapshot").ok_or_else(|| LoadError::Missing("sct2_Description_Snapshot file".into()))?;
    let relationships = find("sct2_Relationship_Snapshot")
        .ok_or_else(|| LoadError::Missing("sct2_Relationship_Snapshot file".into()))?;
    let version = file_name(&concepts)
        .trim_end_matches(".txt")
        .rsplit('_')
        .next()
        .map(str::to_owned);
    let mut b = CodeSystemIndex::builder(URL, version.as_deref()).name("SNOMED CT");
    for row in rows(&concepts, 5)? {
        let mut c = Concept::new(&row[0], None);
        c.inactive = row[2] != "1";
        b.add(c);
    }
    let preferred = match find("der2_cRefset_LanguageSnapshot") {
        Some(f) => preferred_descriptions(&f)?,
        None => HashSet::new(),
    };
    for row in rows(&descriptions, 9)? {
        let Some(i) = b.index_of(&row[4]).filter(|_| row[2] == "1") else {
            continue;
        };
        let (term, type_id) = (row[7].as_str(), row[6].as_str());
        let c = b.concept_mut(i);
        let use_ = json!({"system": URL, "code": type_id});
        c.designations.push(Designation {
            language: Some(row[5].as_str().into()),
            use_: Some(use_),
            value: term.into(),
        });
        if preferred.contains(&row[0]) && type_id != FSN {
            c.display = Some(term.into());
        } else if c.display.is_none() && type_id == FSN {
            c.display = Some(without_semantic_tag(term).into());
        }
    }
    for row in rows(&relationships, 10)? {
        if row[2] == "1" && row[7] == IS_A {
            if let Some(child) = b.index_of(&row[4]) {
                b.add_parent(child, &row[5]);
            }
        }
    }
    Ok(b.finish())
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}

fn find_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            out.extend(find_files(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The rows of an RF2 file (tab-separated, one header line), each with at
/// least `columns` fields.
fn rows(path: &Path, columns: usize) -> Result<Vec<Vec<String>>, LoadError> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
        if fields.len() < columns {
            return Err(LoadError::Format {
                path: path.to_owned(),
                line: n + 1,
                message: format!("expected {columns} tab-separated fields, found {}", fields.len()),
            });
        }
        out.push(fields);
    }
    Ok(out)
}

/// Description ids marked preferred in an active language refset row.
fn preferred_descriptions(path: &Path) -> Result<HashSet<String>, LoadError> {
    Ok(rows(path, 7)?
        .into_iter()
        .filter(|r| r[2] == "1" && r[6] == PREFERRED)
        .map(|mut r| r.swap_remove(5))
        .collect())
}

/// `Diabetes mellitus (disorder)` → `Diabetes mellitus`.
fn without_semantic_tag(fsn: &str) -> &str {
    match fsn.rfind(" (") {
        Some(i) if fsn.ends_with(')') => &fsn[..i],
        _ => fsn,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a tiny RF2 snapshot: clinical finding > disease > diabetes,
    /// plus an inactive concept; returns its folder.
    pub fn sample_release(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ipe-sct-{tag}-{}", std::process::id()));
        let term = dir.join("Snapshot").join("Terminology");
        std::fs::create_dir_all(&term).unwrap();
        let concept = "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n\
            404684003\t20020131\t1\t900000000000207008\t900000000000074008\n\
            64572001\t20020131\t1\t900000000000207008\t900000000000074008\n\
            73211009\t20020131\t1\t900000000000207008\t900000000000074008\n\
            19378003\t20020131\t0\t900000000000207008\t900000000000074008\n";
        let d = |id: &str, c: &str, t: &str, term: &str| {
            format!("{id}\t20170731\t1\t900000000000207008\t{c}\ten\t{t}\t{term}\t900000000000448009\n")
        };
        let descriptions = [
            "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId\n"
                .to_owned(),
            d("1", "404684003", FSN, "Clinical finding (finding)"),
            d("2", "64572001", FSN, "Disease (disorder)"),
            d("3", "64572001", "900000000000013009", "Disorder"),
            d("4", "73211009", FSN, "Diabetes mellitus (disorder)"),
            d("5", "73211009", "900000000000013009", "DM - Diabetes mellitus"),
            d("6", "19378003", FSN, "Pseudoconcept (finding)"),
        ]
        .concat();
        let r = |id: &str, s: &str, d: &str, active: &str| {
            format!("{id}\t20020131\t{active}\t900000000000207008\t{s}\t{d}\t0\t{IS_A}\t900000000000011006\t900000000000451002\n")
        };
        let relationships = [
            "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId\n".to_owned(),
            r("10", "64572001", "404684003", "1"),
            r("11", "73211009", "64572001", "1"),
            r("12", "19378003", "73211009", "0"),
        ]
        .concat();
        let refset = "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId\n\
            a\t20170731\t1\t900000000000207008\t900000000000509007\t3\t900000000000548007\n";
        std::fs::write(term.join("sct2_Concept_Snapshot_INT_20240101.txt"), concept).unwrap();
        std::fs::write(term.join("sct2_Description_Snapshot-en_INT_20240101.txt"), descriptions).unwrap();
        std::fs::write(term.join("sct2_Relationship_Snapshot_INT_20240101.txt"), relationships).unwrap();
        let lang = dir.join("Snapshot").join("Refset").join("Language");
        std::fs::create_dir_all(&lang).unwrap();
        std::fs::write(lang.join("der2_cRefset_LanguageSnapshot-en_INT_20240101.txt"), refset).unwrap();
        dir
    }

    #[test]
    fn loads_concepts_displays_and_is_a_hierarchy_from_rf2() {
        let dir = sample_release("load");
        let cs = load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(cs.version.as_deref(), Some("20240101"));
        assert_eq!(cs.len(), 4);
        assert_eq!(
            cs.find("64572001").unwrap().display.as_deref(),
            Some("Disorder"),
            "preferred synonym"
        );
        assert_eq!(
            cs.find("73211009").unwrap().display.as_deref(),
            Some("Diabetes mellitus"),
            "FSN without tag"
        );
        let finding = cs.find_index("404684003").unwrap();
        let diabetes = cs.find_index("73211009").unwrap();
        assert!(cs.subsumes(finding, diabetes));
        let inactive = cs.find_index("19378003").unwrap();
        assert!(cs.concept(inactive).inactive);
        assert!(cs.parents(inactive).is_empty(), "inactive relationships are ignored");
    }

    #[test]
    fn a_folder_without_rf2_files_says_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("ipe-sct-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = load(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).ok();
        assert!(err.to_string().contains("sct2_Concept_Snapshot"));
    }
}
