//! Input files: a filing (`--from-file`) or a selection (`--selection`), JSON, `-` for
//! standard input.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::CliError;

pub fn read_json(path: &Path) -> Result<Value, CliError> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("reading standard input: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("reading {}: {e}", path.display())))?
    };
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))
}
