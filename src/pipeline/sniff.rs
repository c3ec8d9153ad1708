//! Recognising a layer by its first bytes, never by the file name: clinics name
//! their backups every which way, and a renamed file must still restore.

pub use crate::report::facts::{DumpFormat, Layer};

/// How many leading bytes the sniffer needs to tell every layer apart.
pub const SNIFF_LEN: usize = 64;

const AGE_BINARY: &[u8] = b"age-encryption.org/v1\n";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const GZIP: &[u8] = &[0x1f, 0x8b];
const PG_CUSTOM: &[u8] = b"PGDMP";

/// Names the layer that starts with `head` (at most [`SNIFF_LEN`] bytes).
pub fn sniff(head: &[u8]) -> Layer {
    if head.starts_with(AGE_BINARY) {
        Layer::Age
    } else if starts_after_whitespace(head, AGE_ARMOR) {
        Layer::AgeArmored
    } else if head.starts_with(ZSTD) {
        Layer::Zstd
    } else if head.starts_with(GZIP) {
        Layer::Gzip
    } else {
        Layer::Dump(sniff_dump(head))
    }
}

fn starts_after_whitespace(head: &[u8], magic: &[u8]) -> bool {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    head[start..].starts_with(magic)
}

fn sniff_dump(head: &[u8]) -> DumpFormat {
    if head.starts_with(PG_CUSTOM) {
        return DumpFormat::PostgresCustom;
    }
    // Plain SQL dumps open with a recognisable comment banner. Anything else that
    // happens to be text (a README, a log) is not a backup.
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    // mariadb-dump since 10.5.25 / 10.11.8 opens with a line that makes older
    // clients refuse the dump's shell commands; the banner follows it.
    let after_sandbox_line = text
        .strip_prefix("/*M!999999\\- enable the sandbox mode */")
        .map(str::trim_start);
    let text = after_sandbox_line.unwrap_or(text);
    if text.starts_with("-- MySQL dump") || text.starts_with("-- MariaDB dump") {
        DumpFormat::MysqlSql
    } else if text.starts_with("--\n-- PostgreSQL database dump")
        || text.starts_with("-- PostgreSQL database dump")
        || text.starts_with("--\r\n-- PostgreSQL database dump")
        || text.starts_with("\\restrict ")
    {
        DumpFormat::PostgresSql
    } else {
        DumpFormat::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mariadb_dump_opening_with_its_sandbox_mode_line_is_a_mariadb_dump() {
        let head = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n";
        assert_eq!(sniff_dump(head), DumpFormat::MysqlSql);
        assert_eq!(
            sniff_dump(b"/*M!999999\\- enable the sandbox mode */ \nhello"),
            DumpFormat::Unknown
        );
    }

    #[test]
    fn sniffs_every_layer_by_magic() {
        assert_eq!(sniff(b"age-encryption.org/v1\n-> X25519"), Layer::Age);
        assert_eq!(
            sniff(b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl"),
            Layer::AgeArmored
        );
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x04]), Layer::Zstd);
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08]), Layer::Gzip);
        assert_eq!(
            sniff(b"PGDMP\x01\x0f"),
            Layer::Dump(DumpFormat::PostgresCustom)
        );
        assert_eq!(
            sniff(b"--\n-- PostgreSQL database dump\n--\n"),
            Layer::Dump(DumpFormat::PostgresSql)
        );
        assert_eq!(
            sniff(b"\\restrict abc\n--\n-- PostgreSQL database dump"),
            Layer::Dump(DumpFormat::PostgresSql)
        );
        assert_eq!(
            sniff(b"-- MariaDB dump 10.19  Distrib 10.11.6"),
            Layer::Dump(DumpFormat::MysqlSql)
        );
    }

    #[test]
    fn text_random_and_empty_are_not_backups() {
        assert_eq!(sniff(b""), Layer::Dump(DumpFormat::Unknown));
        assert_eq!(
            sniff(b"Dear clinic, your files are encrypted"),
            Layer::Dump(DumpFormat::Unknown)
        );
        assert_eq!(
            sniff(&[0x00, 0x9a, 0x13, 0xee, 0x55]),
            Layer::Dump(DumpFormat::Unknown)
        );
        // a truncated age magic is not an age file
        assert_eq!(
            sniff(b"age-encryption.org/"),
            Layer::Dump(DumpFormat::Unknown)
        );
    }
}
