//! Names where a clerk reads: areas from the jurisdiction tree, people from their accounts. The
//! code stays one hover away (`title`), for the clerk who must quote it to the county office.

use std::collections::HashMap;

use gridsync_core::{JurisdictionPath, Level};
use maud::{Markup, html};

use super::Lang;
use crate::store::{Store, StoreError};
use crate::supervision::SYSTEM_USER;

/// The jurisdiction tree's names and the accounts' names, read once per page.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Every node of the tree, in tree order.
    units: Vec<(JurisdictionPath, String)>,
    areas: HashMap<String, String>,
    people: HashMap<String, String>,
}

impl Names {
    pub async fn load(store: &Store, lang: Lang) -> Result<Names, StoreError> {
        let (units, people) = tokio::try_join!(store.org_units(), store.display_names())?;
        let areas = units
            .iter()
            .map(|(p, n)| (p.to_string(), n.clone()))
            .collect();
        let mut people: HashMap<String, String> = people.into_iter().collect();
        // The supervision clock writes as a user of its own.
        people.insert(SYSTEM_USER.to_owned(), lang.t("system_user").to_owned());
        Ok(Names {
            units,
            areas,
            people,
        })
    }

    /// An area as a clerk says it: `洺州镇 东街村 第2网格` for `130533/100/201/02` — the names
    /// below the county (the county's own for the county), a child's name without its parent's
    /// when it repeats it (东街村第2网格 under 东街村). A node missing from the tree shows its
    /// code; a path that does not parse shows as it is.
    pub fn area(&self, path: &str) -> String {
        let Ok(p) = JurisdictionPath::parse(path) else {
            return path.to_owned();
        };
        let mut words = Vec::new();
        for level in Level::ALL.into_iter().rev() {
            let Some(node) = p.at_level(level) else { break };
            if level == Level::County && p.level() != Level::County {
                continue;
            }
            let code = &node.codes()[node.codes().len() - 1];
            let parent = level.up().and_then(|up| p.at_level(up));
            let shown = match (self.areas.get(&node.to_string()), parent) {
                (Some(name), Some(parent)) => self.short(name, &parent),
                (Some(name), None) => name.as_str(),
                (None, _) => code.as_str(),
            };
            words.push(shown.to_owned());
        }
        words.join(" ")
    }

    /// An account's name; the account id when it has none (or is not an account, e.g. `server`).
    pub fn person<'a>(&'a self, user: &'a str) -> &'a str {
        self.people
            .get(user)
            .map(String::as_str)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(user)
    }

    /// An area by name, its code on hover.
    pub fn place(&self, path: &str) -> Markup {
        html! { span.place title=(path) { (self.area(path)) } }
    }

    /// A person by name, the account on hover.
    pub fn who(&self, user: &str) -> Markup {
        html! { span.person title=(user) { (self.person(user)) } }
    }

    /// The tree's children of `parent` within `scope`, as (own code, name), in tree order: the
    /// options of an area picker.
    pub fn children(
        &self,
        parent: &JurisdictionPath,
        scope: &JurisdictionPath,
    ) -> Vec<(&str, &str)> {
        let depth = parent.codes().len() + 1;
        self.units
            .iter()
            .filter(|(p, _)| {
                p.codes().len() == depth
                    && p.codes().starts_with(parent.codes())
                    && (p.is_within(scope) || scope.is_within(p))
            })
            .map(|(p, name)| (p.codes()[depth - 1].as_str(), self.short(name, parent)))
            .collect()
    }

    /// `name` without its parent's name when it repeats it (东街村第2网格 under 东街村).
    fn short<'a>(&self, name: &'a str, parent: &JurisdictionPath) -> &'a str {
        match self.areas.get(&parent.to_string()) {
            Some(p) if !p.is_empty() => name
                .strip_prefix(p.as_str())
                .filter(|rest| !rest.is_empty())
                .unwrap_or(name),
            _ => name,
        }
    }

    /// No jurisdiction tree imported: areas show as codes, pickers are typed.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let units: Vec<(JurisdictionPath, String)> = [
            ("130533", "威县"),
            ("130533/100", "洺州镇"),
            ("130533/100/201", "东街村"),
            ("130533/100/201/02", "东街村第2网格"),
            ("130533/100/202", "西街村"),
            ("130533/101", "贺营镇"),
        ]
        .into_iter()
        .map(|(p, n)| (JurisdictionPath::parse(p).unwrap(), n.to_owned()))
        .collect();
        Names {
            areas: units
                .iter()
                .map(|(p, n)| (p.to_string(), n.clone()))
                .collect(),
            units,
            people: [("gw.1".to_owned(), "王芳".to_owned())].into(),
        }
    }

    #[test]
    fn an_area_reads_as_its_names_below_the_county() {
        let n = names();
        assert_eq!(n.area("130533/100/201/02"), "洺州镇 东街村 第2网格");
        assert_eq!(n.area("130533/100"), "洺州镇");
        assert_eq!(n.area("130533"), "威县");
        // Not in the tree: the code of the missing node, the names of the others.
        assert_eq!(n.area("130533/100/203/01"), "洺州镇 203 01");
        assert_eq!(n.area("not a path"), "not a path");
    }

    #[test]
    fn a_person_reads_as_the_accounts_name() {
        let n = names();
        assert_eq!(n.person("gw.1"), "王芳");
        assert_eq!(n.person("server"), "server");
        assert_eq!(
            n.who("gw.1").into_string(),
            r#"<span class="person" title="gw.1">王芳</span>"#
        );
    }

    #[test]
    fn pickers_offer_the_children_within_the_scope() {
        let n = names();
        let county = JurisdictionPath::parse("130533").unwrap();
        let town = JurisdictionPath::parse("130533/100").unwrap();
        let kids = n.children(&county, &county);
        assert_eq!(kids, [("100", "洺州镇"), ("101", "贺营镇")]);
        // A township clerk is offered only their own township.
        let kids = n.children(&county, &town);
        assert_eq!(kids, [("100", "洺州镇")]);
        let kids = n.children(&town, &town);
        assert_eq!(kids, [("201", "东街村"), ("202", "西街村")]);
    }
}
