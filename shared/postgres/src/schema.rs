//! A database's tables, keys and foreign keys, read from its own catalog (`pg_catalog`).
//!
//! Every identifier the engine puts into SQL is one found here, so a name in a request that
//! the database does not have is refused before any SQL is built from it.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::ident::qualified;
use super::PgError;

/// The engine's own schemas, never selected from.
pub const OWN_SCHEMAS: [&str; 2] = ["lifeboat", "lifeboat_selection"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The declared type (`format_type`), used to cast bound text values.
    pub type_name: String,
    /// Generated columns are computed by the database, so never copied.
    pub generated: bool,
    /// `GENERATED ALWAYS AS IDENTITY`: inserting a value needs `OVERRIDING SYSTEM VALUE`.
    pub identity_always: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes on plain columns, other than the primary key.
    pub unique: Vec<Vec<String>>,
    /// Legacy inheritance: other tables inherit from this one, so a plain `SELECT` from it
    /// reads theirs too. Refused for selection (partitioned tables are read whole, their
    /// partitions are not listed).
    pub inherited: bool,
}

impl Table {
    /// `schema.table`, as named in requests and reports.
    pub fn id(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The quoted name to use in SQL.
    pub fn sql(&self) -> String {
        qualified(&self.schema, &self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns a copy carries: all but generated ones.
    pub fn copied_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.clone())
            .collect()
    }

    pub fn has_identity_always(&self) -> bool {
        self.columns.iter().any(|c| c.identity_always && !c.generated)
    }
}

/// `child.columns` references `parent.referenced`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub child: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub referenced: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// By `schema.table`.
    pub tables: BTreeMap<String, Table>,
    pub foreign_keys: Vec<ForeignKey>,
}

impl Schema {
    /// A table named in a request: `schema.table`, or `table` in `public`.
    pub fn find(&self, name: &str) -> Option<&Table> {
        if name.contains('.') {
            self.tables.get(name)
        } else {
            self.tables.get(&format!("public.{name}"))
        }
    }

    pub fn table(&self, id: &str) -> &Table {
        &self.tables[id]
    }

    /// Foreign keys whose parent is `table`.
    pub fn children_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a ForeignKey> {
        self.foreign_keys.iter().filter(move |f| f.parent == table)
    }

    /// Foreign keys whose child is `table`.
    pub fn parents_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a ForeignKey> {
        self.foreign_keys.iter().filter(move |f| f.child == table)
    }

    /// `tables` ordered parents first (a table after every table it references), the rest
    /// of a cycle by name: a cycle's rows can only be merged if its keys allow it.
    pub fn parents_first(&self, tables: &[String]) -> Vec<String> {
        let mut left: Vec<String> = tables.to_vec();
        left.sort();
        let mut ordered = Vec::new();
        while !left.is_empty() {
            let ready = left.iter().position(|t| {
                self.parents_of(t)
                    .all(|f| f.parent == *t || !left.contains(&f.parent))
            });
            ordered.push(left.remove(ready.unwrap_or(0)));
        }
        ordered
    }

    pub async fn load(client: &Client) -> Result<Schema, PgError> {
        let mut schema = Schema::default();
        let mut by_oid: BTreeMap<u32, String> = BTreeMap::new();
        let mut attnames: BTreeMap<(u32, i16), String> = BTreeMap::new();
        let rows = client
            .query(
                "SELECT c.oid, n.nspname::text, c.relname::text
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relkind IN ('r', 'p')
                    AND NOT c.relispartition
                    AND n.nspname <> ALL ($1)
                    AND n.nspname <> 'information_schema'
                    AND n.nspname NOT LIKE 'pg\\_%'",
                &[&OWN_SCHEMAS.to_vec()],
            )
            .await
            .map_err(|e| PgError::query("reading the tables", e))?;
        for row in rows {
            let (oid, nsp, name): (u32, String, String) = (row.get(0), row.get(1), row.get(2));
            let table = Table {
                schema: nsp,
                name,
                columns: Vec::new(),
                primary_key: Vec::new(),
                unique: Vec::new(),
                inherited: false,
            };
            by_oid.insert(oid, table.id());
            schema.tables.insert(table.id(), table);
        }
        let oids: Vec<u32> = by_oid.keys().copied().collect();
        let rows = client
            .query(
                "SELECT DISTINCT i.inhparent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
                  WHERE i.inhparent = ANY ($1) AND c.relkind = 'r'",
                &[&oids],
            )
            .await
            .map_err(|e| PgError::query("reading table inheritance", e))?;
        for row in rows {
            let oid: u32 = row.get(0);
            if let Some(t) = schema.tables.get_mut(&by_oid[&oid]) {
                t.inherited = true;
            }
        }
        let rows = client
            .query(
                "SELECT attrelid, attnum, attname::text, format_type(atttypid, atttypmod),
                        attgenerated <> '', attidentity = 'a'
                   FROM pg_attribute
                  WHERE attrelid = ANY ($1) AND attnum > 0 AND NOT attisdropped
                  ORDER BY attrelid, attnum",
                &[&oids],
            )
            .await
            .map_err(|e| PgError::query("reading the columns", e))?;
        for row in rows {
            let oid: u32 = row.get(0);
            let name: String = row.get(2);
            attnames.insert((oid, row.get(1)), name.clone());
            let table = schema.tables.get_mut(&by_oid[&oid]).expect("table of column");
            table.columns.push(Column {
                name,
                type_name: row.get(3),
                generated: row.get(4),
                identity_always: row.get(5),
            });
        }
        let names = |oid: u32, nums: Vec<i16>| -> Vec<String> {
            nums.iter()
                .map(|n| attnames.get(&(oid, *n)).cloned().unwrap_or_default())
                .collect()
        };
        let rows = client
            .query(
                "SELECT indrelid, (indkey::int2[])[0:indnkeyatts - 1], indisprimary
                   FROM pg_index
                  WHERE indrelid = ANY ($1) AND indisunique AND indpred IS NULL AND indexprs IS NULL
                  ORDER BY indrelid, indexrelid",
                &[&oids],
            )
            .await
            .map_err(|e| PgError::query("reading the unique indexes", e))?;
        for row in rows {
            let oid: u32 = row.get(0);
            let columns = names(oid, row.get(1));
            let table = schema.tables.get_mut(&by_oid[&oid]).expect("table of index");
            if row.get::<_, bool>(2) {
                table.primary_key = columns;
            } else if !table.unique.contains(&columns) {
                table.unique.push(columns);
            }
        }
        let rows = client
            .query(
                "SELECT conname::text, conrelid, conkey, confrelid, confkey
                   FROM pg_constraint
                  WHERE contype = 'f' AND conparentid = 0 AND conrelid = ANY ($1) AND confrelid = ANY ($1)
                  ORDER BY conrelid, conname",
                &[&oids],
            )
            .await
            .map_err(|e| PgError::query("reading the foreign keys", e))?;
        for row in rows {
            let (child, parent): (u32, u32) = (row.get(1), row.get(3));
            schema.foreign_keys.push(ForeignKey {
                name: row.get(0),
                child: by_oid[&child].clone(),
                columns: names(child, row.get(2)),
                parent: by_oid[&parent].clone(),
                referenced: names(parent, row.get(4)),
            });
        }
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(child: &str, parent: &str) -> ForeignKey {
        ForeignKey {
            name: format!("{child}_{parent}"),
            child: child.into(),
            columns: vec!["p".into()],
            parent: parent.into(),
            referenced: vec!["id".into()],
        }
    }

    #[test]
    fn parents_come_before_their_children_and_self_references_do_not_block() {
        let schema = Schema {
            tables: BTreeMap::new(),
            foreign_keys: vec![
                fk("public.notes", "public.applications"),
                fk("public.applications", "public.contacts"),
                fk("public.notes", "public.contacts"),
                fk("public.contacts", "public.contacts"),
            ],
        };
        let tables = ["public.notes", "public.contacts", "public.applications"].map(String::from);
        assert_eq!(
            schema.parents_first(&tables),
            ["public.contacts", "public.applications", "public.notes"]
        );
    }
}
