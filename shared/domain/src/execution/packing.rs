//! How an extract batch is stored: gzip, with the SHA-256 of the uncompressed contents in
//! the manifest, checked again when the batch is read back for the merge.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The compressed batch.
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), Compression::fast());
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// The batch's contents, if they are what the manifest says.
pub fn unpack(gz: &[u8], expected_sha256: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(gz.len() * 4);
    GzDecoder::new(gz)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("not a readable gzip file: {e}"))?;
    let sha = sha256(&bytes);
    if sha != expected_sha256 {
        return Err(format!(
            "does not match the manifest (sha256 {sha}, manifest {expected_sha256}): it changed since the extract"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_batch_unpacks_only_with_its_checksum() {
        let csv = b"1,a\n2,\"b, with a comma\"\n";
        let gz = pack(csv);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert_eq!(unpack(&gz, &sha256(csv)).unwrap(), csv);
        assert!(unpack(&gz, &sha256(b"other"))
            .unwrap_err()
            .contains("does not match the manifest"));
        assert!(unpack(b"plain", &sha256(csv)).unwrap_err().contains("gzip"));
    }
}
