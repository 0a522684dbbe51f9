//! `split`: one record per item of a list (an order into its lines), each keeping the parent's
//! fields and the item under its own name.

use serde_json::Value;

use super::Rejection;
use crate::record::Record;
use crate::record::path::CompiledPath;

#[derive(Debug)]
pub struct SplitStep {
    pub name: String,
    pub path: CompiledPath,
    pub path_text: String,
    /// The field each item goes in.
    pub item: String,
}

impl SplitStep {
    pub fn apply(&self, record: &Record, out: &mut Vec<Record>) -> Result<(), Rejection> {
        let items: Vec<&Value> = match self.path.get(record) {
            Some(Value::Array(items)) => items.iter().collect(),
            // A list of one is often written without the list (XML, some APIs).
            Some(Value::Object(_)) => self.path.select(record),
            Some(Value::Null) | None => {
                return Err(Rejection::new(
                    &self.name,
                    format!("no list at `{}`", self.path_text),
                ));
            }
            Some(_) => {
                return Err(Rejection::new(
                    &self.name,
                    format!("`{}` is not a list", self.path_text),
                ));
            }
        };
        let Value::Object(parent) = record else {
            return Err(Rejection::new(&self.name, "the record is not an object"));
        };
        for item in items {
            let mut child = parent.clone();
            child.insert(self.item.clone(), item.clone());
            out.push(Value::Object(child));
        }
        Ok(())
    }
}
