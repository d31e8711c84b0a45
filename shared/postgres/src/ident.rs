//! SQL identifiers and literals the engine writes itself. Every table and column name comes
//! from the database's own catalog and is quoted here; values from requests are never
//! spliced into SQL, they are bound as parameters.

/// `name` as a quoted identifier: `"name"`, with embedded quotes doubled.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` with both parts quoted.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

/// `a, b, c`, each quoted, optionally prefixed by a table alias (`t."a", t."b"`).
pub fn list(columns: &[String], alias: Option<&str>) -> String {
    columns
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{}", quote(c)),
            None => quote(c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(a."x", a."y") = (b."x", b."y")`: row equality of the same columns under two aliases.
pub fn row_eq(columns: &[String], left: &str, right: &str) -> String {
    row_eq_pairs(columns, left, columns, right)
}

/// `(l."a", l."b") = (r."x", r."y")`: row equality of paired columns.
pub fn row_eq_pairs(left_cols: &[String], left: &str, right_cols: &[String], right: &str) -> String {
    format!(
        "({}) = ({})",
        list(left_cols, Some(left)),
        list(right_cols, Some(right))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_so_a_name_cannot_end_the_identifier() {
        assert_eq!(quote("contacts"), "\"contacts\"");
        assert_eq!(quote("x\"; drop table y; --"), "\"x\"\"; drop table y; --\"");
        assert_eq!(qualified("public", "Contacts"), "\"public\".\"Contacts\"");
    }

    #[test]
    fn lists_and_row_equality() {
        let cols = vec!["a".to_string(), "b".to_string()];
        assert_eq!(list(&cols, None), "\"a\", \"b\"");
        assert_eq!(row_eq(&cols, "x", "y"), "(x.\"a\", x.\"b\") = (y.\"a\", y.\"b\")");
    }
}
