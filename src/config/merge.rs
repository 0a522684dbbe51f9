//! `extends:` overlays: a client file on top of a template, merged node by node.
//!
//! Mappings merge key by key; any other value is replaced. Tags on the overlay's values change
//! that: `!append` / `!prepend` add a list's items after / before the template's, `!merge`
//! merges list items that share an `id` (the others are appended), `!replace` replaces a mapping
//! whole, `!unset` removes the key. Every node keeps the span of the file it came from.

use super::node::{Entry, Node, Value};
use crate::diagnostics::Diagnostic;

pub const MERGE_TAGS: [&str; 5] = ["!append", "!prepend", "!merge", "!replace", "!unset"];
/// YAML core tags syncline understands.
const CORE_TAGS: [&str; 7] = [
    "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq",
];

/// The overlay applied on the template.
pub fn merge(base: Node, overlay: Node) -> Node {
    let tag = overlay.tag.as_deref();
    match (base.value, overlay.value) {
        (Value::Map(base_entries), Value::Map(overlay_entries)) if tag != Some("!replace") => {
            let mut entries = base_entries;
            for entry in overlay_entries {
                let position = entries
                    .iter()
                    .position(|e| e.key_text() == entry.key_text());
                if entry.value.tag.as_deref() == Some("!unset") {
                    if let Some(i) = position {
                        entries.remove(i);
                    }
                    continue;
                }
                match position {
                    Some(i) => {
                        let old = entries.remove(i);
                        let key_span = entry.value.key_span;
                        let mut value = merge(old.value, entry.value);
                        value.key_span = key_span;
                        entries.insert(
                            i,
                            Entry {
                                key: entry.key,
                                value,
                            },
                        );
                    }
                    None => entries.push(entry),
                }
            }
            Node {
                value: Value::Map(entries),
                tag: None,
                ..overlay
            }
        }
        (Value::Seq(base_items), Value::Seq(overlay_items)) if tag.is_some() => {
            let items = match tag {
                Some("!append") => base_items.into_iter().chain(overlay_items).collect(),
                Some("!prepend") => overlay_items.into_iter().chain(base_items).collect(),
                Some("!merge") => merge_by_id(base_items, overlay_items),
                _ => overlay_items,
            };
            Node {
                value: Value::Seq(items),
                tag: None,
                ..overlay
            }
        }
        (_, value) => Node { value, ..overlay },
    }
}

fn item_id(node: &Node) -> Option<&str> {
    node.get("id").and_then(Node::as_str)
}

fn merge_by_id(base: Vec<Node>, overlay: Vec<Node>) -> Vec<Node> {
    let mut items = base;
    for item in overlay {
        let position =
            item_id(&item).and_then(|id| items.iter().position(|b| item_id(b) == Some(id)));
        match position {
            Some(i) => {
                let old = items.remove(i);
                items.insert(i, merge(old, item));
            }
            None => items.push(item),
        }
    }
    items
}

/// Removes merge tags left in the tree (they only mean something in an overlay) and reports tags
/// syncline does not know.
pub fn strip_tags(root: &mut Node, diagnostics: &mut Vec<Diagnostic>) {
    let mut todo = vec![root];
    while let Some(node) = todo.pop() {
        if let Some(tag) = node.tag.as_deref() {
            if MERGE_TAGS.contains(&tag) {
                node.tag = None;
            } else if !CORE_TAGS.contains(&tag) {
                diagnostics.push(
                    Diagnostic::error("unknown-tag", format!("unknown tag `{tag}`"))
                        .at(node.label_span())
                        .hint("syncline knows the overlay tags `!append`, `!prepend`, `!merge`, `!replace`, `!unset` and YAML's `!!str`"),
                );
                node.tag = None;
            }
        }
        match &mut node.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => todo.extend(items.iter_mut()),
            Value::Map(entries) => todo.extend(entries.iter_mut().map(|e| &mut e.value)),
        }
    }
}
