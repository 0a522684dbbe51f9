//! A table target's statements, written once for every way in (sqlx and ODBC): the upsert by
//! the `key` columns in the database's dialect (ON CONFLICT, MySQL's ON DUPLICATE KEY, SQL
//! Server's MERGE), the delete and the select at a row's key.

use serde_json::Value;

use super::dialect::{Dialect, Placeholders};
use super::error::SqlError;
use crate::record::Record;

/// A table and the columns its rows are upserted on.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub key: Vec<String>,
}

/// One statement and its values, with the column each value goes to (for messages).
#[derive(Debug)]
pub struct Statement {
    pub sql: String,
    pub values: Vec<(String, Value)>,
}

/// A failure of a record's `n`-th statement (from 0): the lines follow the document, and a
/// refused one is named (`line 2: ...`).
pub fn name_line(n: usize, error: SqlError) -> SqlError {
    match (n, error) {
        (0, e) => e,
        (n, SqlError::Refused(m)) => SqlError::Refused(format!("line {n}: {m}")),
        (n, SqlError::Value(m)) => SqlError::Value(format!("line {n}: {m}")),
        (_, e) => e,
    }
}

/// How a table target's records become statements.
#[derive(Debug)]
pub struct Statements {
    pub dialect: Dialect,
    pub placeholders: Placeholders,
    /// The first key column is a row's id in the ID map.
    pub table: Table,
    /// A document's lines: the record's field that lists them, and their table. A document
    /// and its lines are written in one savepoint: all of them, or none.
    pub lines: Option<(String, Table)>,
}

impl Statements {
    fn quote(&self, name: &str) -> Result<String, SqlError> {
        self.dialect.quote(name)
    }

    fn fields(record: &Record) -> Result<Vec<(String, Value)>, SqlError> {
        match record {
            Value::Object(fields) => {
                Ok(fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => Err(SqlError::Value(
                "the record is not an object of columns".into(),
            )),
        }
    }

    /// The statements that write `record`: its upsert, then its lines' (`line N: ...` names
    /// the one refused).
    pub fn write(&self, record: &Record) -> Result<Vec<Statement>, SqlError> {
        let mut values = Self::fields(record)?;
        let Some((field, table)) = &self.lines else {
            return Ok(vec![self.upsert(&self.table, values)?]);
        };
        let lines = match values.iter().position(|(name, _)| name == field) {
            Some(at) => values.remove(at).1,
            None => Value::Null,
        };
        let mut statements = vec![self.upsert(&self.table, values)?];
        for (n, line) in lines.as_array().into_iter().flatten().enumerate() {
            let line = Self::fields(line)
                .and_then(|values| self.upsert(table, values))
                .map_err(|e| name_line(n + 1, e))?;
            statements.push(line);
        }
        Ok(statements)
    }

    /// `INSERT ... ON CONFLICT (key) DO UPDATE`, MySQL's `ON DUPLICATE KEY UPDATE`, or SQL
    /// Server's `MERGE`.
    fn upsert(&self, table: &Table, values: Vec<(String, Value)>) -> Result<Statement, SqlError> {
        for key in &table.key {
            if !values.iter().any(|(name, _)| name == key) {
                return Err(SqlError::Value(format!("the record has no `{key}` column")));
            }
        }
        let columns: Vec<String> = values
            .iter()
            .map(|(name, _)| self.quote(name))
            .collect::<Result<_, _>>()?;
        let placeholders: Vec<String> = (1..=values.len())
            .map(|n| self.placeholders.nth(n))
            .collect();
        let changed: Vec<&String> = values
            .iter()
            .zip(&columns)
            .filter(|((name, _), _)| !table.key.contains(name))
            .map(|(_, quoted)| quoted)
            .collect();
        let keys: Vec<String> = table
            .key
            .iter()
            .map(|k| self.quote(k))
            .collect::<Result<_, _>>()?;
        let name = self.quote(&table.name)?;
        let sql = match self.dialect {
            Dialect::MySql => {
                let set: Vec<String> = match changed.is_empty() {
                    true => vec![format!("{0} = {0}", columns[0])],
                    false => changed
                        .iter()
                        .map(|c| format!("{c} = VALUES({c})"))
                        .collect(),
                };
                format!(
                    "INSERT INTO {name} ({}) VALUES ({}) ON DUPLICATE KEY UPDATE {}",
                    columns.join(", "),
                    placeholders.join(", "),
                    set.join(", ")
                )
            }
            Dialect::Sqlite | Dialect::Postgres => {
                let action = match changed.is_empty() {
                    true => "NOTHING".to_string(),
                    false => {
                        let set: Vec<String> = changed
                            .iter()
                            .map(|c| format!("{c} = excluded.{c}"))
                            .collect();
                        format!("UPDATE SET {}", set.join(", "))
                    }
                };
                format!(
                    "INSERT INTO {name} ({}) VALUES ({}) ON CONFLICT ({}) DO {action}",
                    columns.join(", "),
                    placeholders.join(", "),
                    keys.join(", ")
                )
            }
            // HOLDLOCK: without it two writers can both find no row and both insert.
            Dialect::MsSql => {
                let on: Vec<String> = keys.iter().map(|k| format!("t.{k} = s.{k}")).collect();
                let matched = match changed.is_empty() {
                    true => String::new(),
                    false => {
                        let set: Vec<String> =
                            changed.iter().map(|c| format!("{c} = s.{c}")).collect();
                        format!(" WHEN MATCHED THEN UPDATE SET {}", set.join(", "))
                    }
                };
                let inserted: Vec<String> = columns.iter().map(|c| format!("s.{c}")).collect();
                format!(
                    "MERGE INTO {name} WITH (HOLDLOCK) AS t USING (VALUES ({})) AS s ({}) ON {}{matched} \
                     WHEN NOT MATCHED THEN INSERT ({}) VALUES ({});",
                    placeholders.join(", "),
                    columns.join(", "),
                    on.join(" AND "),
                    columns.join(", "),
                    inserted.join(", ")
                )
            }
        };
        Ok(Statement { sql, values })
    }

    /// The row's address: its `key` columns' values.
    fn address(&self, target_id: &str, record: &Record) -> Result<Vec<(String, Value)>, SqlError> {
        // A single key column's value is the target id itself (a deletion carries no record).
        let single = self.table.key.len() == 1;
        self.table
            .key
            .iter()
            .map(|k| match record.get(k) {
                Some(v) => Ok((k.clone(), v.clone())),
                None if single => Ok((k.clone(), Value::from(target_id))),
                None => Err(SqlError::Value(format!("the record has no `{k}` column"))),
            })
            .collect()
    }

    fn where_clause(&self, address: &[(String, Value)]) -> Result<String, SqlError> {
        let conditions: Vec<String> = address
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                Ok(format!(
                    "{} = {}",
                    self.quote(name)?,
                    self.placeholders.nth(i + 1)
                ))
            })
            .collect::<Result<_, SqlError>>()?;
        Ok(conditions.join(" AND "))
    }

    pub fn delete(&self, target_id: &str, record: &Record) -> Result<Statement, SqlError> {
        let address = self.address(target_id, record)?;
        let sql = format!(
            "DELETE FROM {} WHERE {}",
            self.quote(&self.table.name)?,
            self.where_clause(&address)?
        );
        Ok(Statement {
            sql,
            values: address,
        })
    }

    pub fn select(&self, target_id: &str, record: &Record) -> Result<Statement, SqlError> {
        let address = self.address(target_id, record)?;
        let sql = format!(
            "SELECT * FROM {} WHERE {}",
            self.quote(&self.table.name)?,
            self.where_clause(&address)?
        );
        Ok(Statement {
            sql,
            values: address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statements(dialect: Dialect, placeholders: Placeholders) -> Statements {
        Statements {
            dialect,
            placeholders,
            table: Table {
                name: "web".into(),
                key: vec!["ref".into()],
            },
            lines: None,
        }
    }

    #[test]
    fn each_dialect_has_its_upsert() {
        let record = json!({"ref": "A", "price": 1});
        let sql = |d, p| statements(d, p).write(&record).unwrap().remove(0).sql;
        assert_eq!(
            sql(Dialect::Postgres, Placeholders::Numbered),
            "INSERT INTO \"web\" (\"ref\", \"price\") VALUES ($1, $2) ON CONFLICT (\"ref\") DO UPDATE SET \"price\" = excluded.\"price\""
        );
        assert_eq!(
            sql(Dialect::Postgres, Placeholders::Marks),
            "INSERT INTO \"web\" (\"ref\", \"price\") VALUES (?, ?) ON CONFLICT (\"ref\") DO UPDATE SET \"price\" = excluded.\"price\""
        );
        assert_eq!(
            sql(Dialect::MySql, Placeholders::Marks),
            "INSERT INTO `web` (`ref`, `price`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `price` = VALUES(`price`)"
        );
        assert_eq!(
            sql(Dialect::MsSql, Placeholders::Marks),
            "MERGE INTO [web] WITH (HOLDLOCK) AS t USING (VALUES (?, ?)) AS s ([ref], [price]) ON t.[ref] = s.[ref] \
             WHEN MATCHED THEN UPDATE SET [price] = s.[price] WHEN NOT MATCHED THEN INSERT ([ref], [price]) VALUES (s.[ref], s.[price]);"
        );
        let keys_only = json!({"ref": "A"});
        let merge = statements(Dialect::MsSql, Placeholders::Marks)
            .write(&keys_only)
            .unwrap()
            .remove(0)
            .sql;
        assert!(!merge.contains("WHEN MATCHED"), "{merge}");
        assert!(Dialect::MsSql.quote("a]b").is_err());
    }
}
