//! Counts and sizes as a person writes them: "1 day" and "2 days", never
//! "1 days" or "day(s)"; an exact byte count with its size in binary units
//! beside it, as the progress lines show sizes.

use std::fmt::Display;

/// `n` and the noun that agrees with it: `plural(1, "entry", "entries")` is
/// "1 entry". Both forms are given: English plurals are not all an `s`.
pub fn plural<N>(n: N, one: &str, many: &str) -> String
where
    N: Copy + Display + PartialEq + From<u8>,
{
    format!("{n} {}", if n == N::from(1) { one } else { many })
}

/// Whole days, as "1 day" or "35 days" (rounded as `{:.0}` would show them).
pub fn days(d: f64) -> String {
    let shown = format!("{d:.0}");
    let one = shown == "1";
    format!("{shown} {}", if one { "day" } else { "days" })
}

/// A size in binary units with two decimals: "512 B", "5.82 MiB" (the units
/// the progress lines use).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// The exact count first (what a script or an auditor compares), then the
/// size a person reads: "6106306 bytes (5.82 MiB)".
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        plural(n, "byte", "bytes")
    } else {
        format!("{n} bytes ({})", size(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(
            plural(1usize, "restore drill", "restore drills"),
            "1 restore drill"
        );
        assert_eq!(plural(0usize, "run", "runs"), "0 runs");
        assert_eq!(plural(2u32, "entry", "entries"), "2 entries");
        assert_eq!(plural(1i64, "record", "records"), "1 record");
    }

    #[test]
    fn days_agree_with_the_number_shown() {
        assert_eq!(days(1.0), "1 day");
        assert_eq!(days(1.2), "1 day");
        assert_eq!(days(0.6), "1 day");
        assert_eq!(days(1.6), "2 days");
        assert_eq!(days(0.2), "0 days");
        assert_eq!(days(35.0), "35 days");
    }

    #[test]
    fn sizes_read_in_binary_units_beside_the_exact_count() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.00 KiB");
        assert_eq!(size(6_106_306), "5.82 MiB");
        assert_eq!(size(3 << 30), "3.00 GiB");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(900), "900 bytes");
        assert_eq!(bytes(6_106_306), "6106306 bytes (5.82 MiB)");
    }
}
