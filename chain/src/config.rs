//! Finding the config that governs a path: the closest rule, function or owner.
//!
//! Config lives in its own namespace of the tree (`rules`, `functions`, `owners`) at the node of
//! its pattern, as a leaf named `.rule`, `.function` or `.owner`. A pattern matches a prefix of a
//! path segment by segment: a literal segment matches itself, a wildcard `$name` matches any
//! segment and binds it. The closest config is:
//! 1. the one whose pattern is longest (deepest), and among those
//! 2. the most specific: compared segment by segment from the root, a literal beats a wildcard
//!    at the first place they differ.
//!
//! Functions only match whole paths (pattern length = path length); rules and owners match any
//! prefix (a rule at `/a` governs `/a/b/c` unless a closer one exists).
//!
//! To keep the choice unambiguous, a config node may have at most one wildcard child
//! (`SET_RULE`, `SET_FUNCTION` and `SET_OWNER` fail with a wildcard conflict otherwise). The
//! search walks the config tree level by level and only visits existing nodes, so its cost is
//! bounded by the path depth times the config that exists.

use crate::path::Bindings;
use crate::state::StateTxn;
use crate::store::NodeBody;

/// The three kinds of config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigKind {
    /// Write rules.
    Rule,
    /// Native function triggers.
    Function,
    /// Owner permissions.
    Owner,
}

impl ConfigKind {
    /// The namespace under the tree root.
    pub fn namespace(self) -> &'static str {
        match self {
            ConfigKind::Rule => "rules",
            ConfigKind::Function => "functions",
            ConfigKind::Owner => "owners",
        }
    }

    /// The name of the config leaf under its pattern's node.
    pub fn leaf(self) -> &'static str {
        match self {
            ConfigKind::Rule => ".rule",
            ConfigKind::Function => ".function",
            ConfigKind::Owner => ".owner",
        }
    }

    /// The store key of the config leaf for `pattern`.
    pub(crate) fn key(self, pattern: &[String]) -> Vec<String> {
        let mut key = Vec::with_capacity(pattern.len() + 2);
        key.push(self.namespace().to_owned());
        key.extend(pattern.iter().cloned());
        key.push(self.leaf().to_owned());
        key
    }
}

/// The config found for a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigMatch {
    /// The matching pattern's segments.
    pub pattern: Vec<String>,
    /// Its wildcard bindings.
    pub bindings: Bindings,
    /// The stored config text (rule source or canonical JSON).
    pub text: String,
}

#[derive(Clone)]
struct Candidate {
    pattern: Vec<String>,
    specificity: Vec<bool>,
    bindings: Bindings,
}

/// The closest config of `kind` for `path`, and whether any config of that kind lies strictly
/// below `path` (under a node matching the whole path).
pub(crate) fn closest(
    txn: &StateTxn<'_>,
    kind: ConfigKind,
    path: &[String],
    whole_path_only: bool,
) -> (Option<ConfigMatch>, bool) {
    let ns = kind.namespace().to_owned();
    let mut frontier = vec![Candidate {
        pattern: Vec::new(),
        specificity: Vec::new(),
        bindings: Bindings::new(),
    }];
    let mut best: Option<(Vec<bool>, Candidate)> = None;
    let mut deeper = false;
    for level in 0..=path.len() {
        let mut next = Vec::new();
        let is_last = level == path.len();
        for cand in frontier {
            let mut key = vec![ns.clone()];
            key.extend(cand.pattern.iter().cloned());
            let children = txn.children(&key);
            if is_last {
                deeper |= children.iter().any(|c| c != kind.leaf());
            } else {
                let segment = &path[level];
                if children.contains(segment) {
                    let mut c = cand.clone();
                    c.pattern.push(segment.clone());
                    c.specificity.push(true);
                    next.push(c);
                }
                for wild in children.iter().filter(|c| c.starts_with('$')) {
                    let mut c = cand.clone();
                    c.pattern.push(wild.clone());
                    c.specificity.push(false);
                    c.bindings.insert(wild[1..].to_owned(), segment.clone());
                    next.push(c);
                }
            }
            let counts = !whole_path_only || is_last;
            if counts && children.contains(kind.leaf()) {
                let better = match &best {
                    None => true,
                    Some((spec, _)) => {
                        cand.specificity.len() > spec.len()
                            || (cand.specificity.len() == spec.len() && cand.specificity > *spec)
                    }
                };
                if better {
                    best = Some((cand.specificity.clone(), cand));
                }
            }
        }
        if is_last {
            let found = best.map(|(_, cand)| {
                let text = match txn.node(&kind.key(&cand.pattern)).map(|n| n.body) {
                    Some(NodeBody::Leaf(crate::store::Scalar::Str(s))) => s,
                    _ => String::new(),
                };
                ConfigMatch {
                    pattern: cand.pattern,
                    bindings: cand.bindings,
                    text,
                }
            });
            return (found, deeper);
        }
        frontier = next;
    }
    unreachable!("invariant: the loop returns at its last level")
}

/// If adding config at `pattern` would give some config node a second, differently named
/// wildcard child, returns the existing wildcard's pattern prefix (for the error message).
pub(crate) fn wildcard_conflict(
    txn: &StateTxn<'_>,
    kind: ConfigKind,
    pattern: &[String],
) -> Option<String> {
    let mut key = vec![kind.namespace().to_owned()];
    for segment in pattern {
        if segment.starts_with('$')
            && let Some(other) = txn
                .children(&key)
                .into_iter()
                .find(|c| c.starts_with('$') && c != segment)
        {
            let mut shown: Vec<&str> = key[1..].iter().map(String::as_str).collect();
            shown.push(&other);
            return Some(format!("/{}", shown.join("/")));
        }
        key.push(segment.clone());
    }
    None
}
