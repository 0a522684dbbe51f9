//! `lookup`: translates one field through a correspondence table into another field.

use std::sync::Arc;

use super::Rejection;
use super::table::{TablePlan, Translation};
use crate::config::model::Unmapped;
use crate::record::path::CompiledPath;
use crate::record::{Record, text_of};

#[derive(Debug)]
pub struct LookupStep {
    pub name: String,
    pub table: Arc<TablePlan>,
    pub from: CompiledPath,
    pub from_text: String,
    pub into: String,
    pub unmapped: Option<Unmapped>,
}

impl LookupStep {
    pub fn apply(&self, record: &mut Record) -> Result<(), Rejection> {
        let reject = |reason: String| Rejection::new(&self.name, reason);
        let value = self
            .from
            .get(record)
            .ok_or_else(|| reject(format!("missing value at `{}`", self.from_text)))?;
        let text = text_of(value).ok_or_else(|| {
            reject(format!(
                "the value at `{}` is not text or a number",
                self.from_text
            ))
        })?;
        let translated = match self.table.translate(&text, self.unmapped.as_ref()) {
            Translation::Mapped(v) => v,
            Translation::Kept => value.clone(),
            Translation::Unmapped => {
                return Err(reject(format!(
                    "unmapped value `{text}` in the table `{}`",
                    self.table.name
                )));
            }
        };
        if let Some(map) = record.as_object_mut() {
            map.insert(self.into.clone(), translated);
        }
        Ok(())
    }
}
