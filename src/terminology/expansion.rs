//! The evaluated content of a value set: its members in order, a hash index
//! for membership checks, and what could not be enumerated.
//!
//! One [`Expansion`] serves both `$expand` (the members, filtered and paged
//! per request) and `$validate-code` (one hash lookup per coding), so a
//! value set is evaluated once and then cached.

use std::collections::HashMap;
use std::sync::Arc;

use super::builtin::{Builtin, GrammarFilter};
use super::codesystem::{CodeSystemIndex, Concept, Designation};

/// One code in an expansion.
#[derive(Debug, Clone)]
pub struct Member {
    pub system: Arc<str>,
    pub version: Option<Arc<str>>,
    pub code: Box<str>,
    /// The display the value set gives, which wins over the code system's.
    pub display: Option<Box<str>>,
    /// Designations the value set gives, in addition to the code system's.
    pub designations: Vec<Designation>,
    /// The concept in its code system, when the system is known here.
    pub source: Option<(Arc<CodeSystemIndex>, u32)>,
    pub inactive: bool,
    pub not_selectable: bool,
}

impl Member {
    pub fn from_concept(cs: &Arc<CodeSystemIndex>, system: &Arc<str>, version: &Option<Arc<str>>, index: u32) -> Self {
        let c = cs.concept(index);
        Member {
            system: system.clone(),
            version: version.clone(),
            code: c.code.clone(),
            display: None,
            designations: Vec::new(),
            source: Some((cs.clone(), index)),
            inactive: c.inactive,
            not_selectable: c.not_selectable,
        }
    }

    pub fn concept(&self) -> Option<&Concept> {
        self.source.as_ref().map(|(cs, i)| cs.concept(*i))
    }

    pub fn display(&self) -> Option<&str> {
        self.display
            .as_deref()
            .or_else(|| self.concept().and_then(|c| c.display.as_deref()))
    }

    /// Designations from the value set, then from the code system.
    pub fn all_designations(&self) -> impl Iterator<Item = &Designation> {
        let from_cs = self.concept().map(|c| c.designations.as_slice()).unwrap_or_default();
        self.designations.iter().chain(from_cs)
    }

    /// The display in a language (`pt` matches `pt-BR` designations and the
    /// other way round), falling back to the default display.
    pub fn display_in(&self, language: Option<&str>) -> Option<&str> {
        let Some(lang) = language else { return self.display() };
        let primary = |l: &str| l.split('-').next().unwrap_or_default().to_ascii_lowercase();
        let exact = self
            .all_designations()
            .find(|d| d.language.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(lang)));
        let near = || {
            self.all_designations()
                .find(|d| d.language.as_deref().is_some_and(|l| primary(l) == primary(lang)))
        };
        exact.or_else(near).map(|d| &*d.value).or_else(|| self.display())
    }
}

/// Why the members of one system cannot be enumerated.
#[derive(Debug, Clone, PartialEq)]
pub enum Open {
    /// A built-in grammar-defined system: any valid code passing the
    /// filters (none: the whole system) is in.
    Builtin(Builtin, Vec<GrammarFilter>),
    /// A system (or filter) this server cannot evaluate.
    NotSupported(String),
}

#[derive(Debug, Default)]
struct SystemMembers {
    exact: HashMap<Box<str>, u32>,
    /// Lower-cased codes, when the system is case-insensitive.
    folded: Option<HashMap<String, u32>>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Expansion {
    pub members: Vec<Member>,
    index: HashMap<Arc<str>, SystemMembers>,
    /// Systems whose membership is open (not enumerated), with why.
    pub open: Vec<(String, Open)>,
    /// Systems included from a fragment (or example) code system: a code
    /// not found there is unknown rather than not a member.
    pub partial: Vec<String>,
    /// Systems whose codes were taken as the value set lists them, without a
    /// code system to check them against.
    pub unchecked: Vec<String>,
    /// `system|version` of every code system used.
    pub used_systems: Vec<String>,
    pub warnings: Vec<String>,
}

impl Expansion {
    /// Adds a member unless the same system and code is already in.
    pub fn push(&mut self, member: Member) {
        let case_insensitive = member.source.as_ref().is_some_and(|(cs, _)| !cs.case_sensitive);
        let at = self.members.len() as u32;
        let slot = self.index.entry(member.system.clone()).or_default();
        if slot.exact.contains_key(&member.code) {
            return;
        }
        slot.exact.insert(member.code.clone(), at);
        if case_insensitive {
            slot.folded
                .get_or_insert_with(HashMap::new)
                .entry(member.code.to_lowercase())
                .or_insert(at);
        }
        self.members.push(member);
    }

    /// Finds a member by system and code (case-folded for case-insensitive
    /// systems).
    pub fn find(&self, system: &str, code: &str) -> Option<&Member> {
        let slot = self.index.get(system)?;
        let at = slot
            .exact
            .get(code)
            .or_else(|| slot.folded.as_ref()?.get(&code.to_lowercase()))?;
        self.members.get(*at as usize)
    }

    pub fn contains(&self, system: &str, code: &str) -> bool {
        self.find(system, code).is_some()
    }

    /// Why `system` is open here, if it is.
    pub fn open_for(&self, system: &str) -> Option<&Open> {
        self.open.iter().find(|(s, _)| s == system).map(|(_, o)| o)
    }

    /// Every system with members or open membership.
    pub fn systems(&self) -> impl Iterator<Item = &str> {
        self.index
            .keys()
            .map(|s| &**s)
            .chain(self.open.iter().map(|(s, _)| s.as_str()))
    }

    /// Keeps only the members `keep` accepts (rebuilding the index).
    pub fn retain(self, keep: impl Fn(&Member) -> bool) -> Self {
        let mut out = Expansion {
            open: self.open,
            partial: self.partial,
            unchecked: self.unchecked,
            used_systems: self.used_systems,
            warnings: self.warnings,
            ..Expansion::default()
        };
        for m in self.members.into_iter().filter(|m| keep(m)) {
            out.push(m);
        }
        out
    }

    /// Adds everything from another expansion (members, open systems, notes).
    pub fn union(&mut self, other: Expansion) {
        for m in other.members {
            self.push(m);
        }
        self.merge_notes(
            other.open,
            other.partial,
            other.unchecked,
            other.used_systems,
            other.warnings,
        );
    }

    pub fn merge_notes(
        &mut self,
        open: Vec<(String, Open)>,
        partial: Vec<String>,
        unchecked: Vec<String>,
        used: Vec<String>,
        warnings: Vec<String>,
    ) {
        for o in open {
            if !self.open.contains(&o) {
                self.open.push(o);
            }
        }
        let add = |list: &mut Vec<String>, more: Vec<String>| {
            for s in more {
                if !list.contains(&s) {
                    list.push(s);
                }
            }
        };
        add(&mut self.partial, partial);
        add(&mut self.unchecked, unchecked);
        add(&mut self.used_systems, used);
        add(&mut self.warnings, warnings);
    }
}
