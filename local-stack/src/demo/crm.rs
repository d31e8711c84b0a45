//! The demo customer's CRM data: contacts, their applications and notes on both, in the
//! instance's PostgreSQL database; and the emergency selective restore exists for: an
//! integration deleting contacts in bulk while everyone else keeps working.
//!
//! The end-to-end tests and the demo share it, so what the demo shows is what is tested.

use tokio_postgres::Client;

use crate::StackError;

pub const SCHEMA: &str = "
CREATE TABLE contacts (
  id bigint PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE applications (
  id bigint PRIMARY KEY,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  program text NOT NULL,
  status text NOT NULL);
CREATE TABLE notes (
  id bigint PRIMARY KEY,
  contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  application_id bigint REFERENCES applications (id) ON DELETE CASCADE,
  body text NOT NULL);
";

/// Ids the later edits use, above anything seeded.
pub const NEW_IDS_FROM: i64 = 1_000_000;

fn sql(what: &str, e: tokio_postgres::Error) -> StackError {
    StackError::Setup(format!("demo CRM data: {what}: {e}"))
}

/// The schema and `contacts` contacts (ids 1..=n), each with one application and two notes
/// (one on the application, one on the contact).
pub async fn seed(client: &Client, contacts: i64) -> Result<(), StackError> {
    client.batch_execute(SCHEMA).await.map_err(|e| sql("schema", e))?;
    client
        .execute(
            "INSERT INTO contacts (id, email, name)
               SELECT i, 'student' || i || '@example.edu', 'Student ' || i FROM generate_series(1, $1::bigint) i",
            &[&contacts],
        )
        .await
        .map_err(|e| sql("contacts", e))?;
    client
        .execute(
            "INSERT INTO applications (id, contact_id, program, status)
               SELECT i, i, (ARRAY['Nursing', 'Law', 'Physics, \"honours\"'])[1 + i % 3], 'submitted'
                 FROM generate_series(1, $1::bigint) i",
            &[&contacts],
        )
        .await
        .map_err(|e| sql("applications", e))?;
    client
        .execute(
            "INSERT INTO notes (id, contact_id, application_id, body)
               SELECT 2 * i - 1, i, i, 'Transcript received for application ' || i FROM generate_series(1, $1::bigint) i
               UNION ALL
               SELECT 2 * i, i, NULL, E'Called,\\nleft a message' FROM generate_series(1, $1::bigint) i",
            &[&contacts],
        )
        .await
        .map_err(|e| sql("notes", e))?;
    Ok(())
}

/// What happened after the recovery point, for checking that a restore left it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// Contacts the integration deleted (with their applications and notes, by cascade).
    pub deleted: Vec<i64>,
    /// Contacts others edited meanwhile (never deleted ones).
    pub edited: Vec<i64>,
    /// A contact created after the deletion with the address of deleted contact
    /// `stolen_email_of`: restoring that one collides on the unique address.
    pub newcomer: i64,
    pub stolen_email_of: i64,
}

/// The integration deletes `deleted` (in batches of 50, as a sync job would) on one
/// connection while `others` keeps editing other contacts and adding notes; then a new
/// contact takes the address of one of the deleted.
pub async fn integration_deletes_while_others_edit(
    integration: &Client,
    others: &Client,
    deleted: std::ops::RangeInclusive<i64>,
    edited: std::ops::RangeInclusive<i64>,
) -> Result<Loss, StackError> {
    let ids: Vec<i64> = deleted.clone().collect();
    let deleting = async {
        for chunk in ids.chunks(50) {
            integration
                .execute("DELETE FROM contacts WHERE id = ANY ($1)", &[&chunk])
                .await
                .map_err(|e| sql("the integration's deletes", e))?;
        }
        Ok::<_, StackError>(())
    };
    let edits: Vec<i64> = edited.collect();
    let editing = async {
        for (n, id) in edits.iter().enumerate() {
            others
                .execute(
                    "UPDATE contacts SET name = name || ' (edited)', updated_at = now() WHERE id = $1",
                    &[id],
                )
                .await
                .map_err(|e| sql("edits", e))?;
            others
                .execute(
                    "INSERT INTO notes (id, contact_id, body) VALUES ($1, $2, 'Added after the deletion')",
                    &[&(NEW_IDS_FROM + n as i64), id],
                )
                .await
                .map_err(|e| sql("new notes", e))?;
        }
        Ok::<_, StackError>(())
    };
    let (a, b) = tokio::join!(deleting, editing);
    a?;
    b?;
    let stolen_email_of = *deleted.start();
    let newcomer = NEW_IDS_FROM;
    others
        .execute(
            "INSERT INTO contacts (id, email, name) VALUES ($1, 'student' || $2::bigint || '@example.edu', 'New student')",
            &[&newcomer, &stolen_email_of],
        )
        .await
        .map_err(|e| sql("the newcomer", e))?;
    Ok(Loss {
        deleted: ids,
        edited: edits,
        newcomer,
        stolen_email_of,
    })
}

/// `query`'s rows as text, in order: for comparing a table row by row.
pub async fn rows(client: &Client, query: &str) -> Result<Vec<String>, StackError> {
    Ok(client
        .query(&format!("SELECT q::text FROM ({query}) q"), &[])
        .await
        .map_err(|e| sql("reading rows", e))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The contact a row of [`rows`]' text belongs to: a contact by its id (the first field),
/// an application or note (`table` 1 or 2, in schema order) by its contact (the second).
pub fn contact_of(row: &str, table: usize) -> Option<i64> {
    let field = row
        .trim_start_matches('(')
        .split(',')
        .nth(if table == 0 { 0 } else { 1 });
    field.and_then(|f| f.parse().ok())
}
