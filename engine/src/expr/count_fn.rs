//! Small functions of PostgreSQL's that count or describe their
//! arguments: `num_nulls`, `num_nonnulls` and `pg_size_pretty`.

use crate::repr::Datum;

/// `num_nulls(args...)` (or `num_nonnulls` with `nonnull`): how many
/// arguments are (not) NULL. Never NULL itself.
pub fn num_nulls(args: &[Datum], nonnull: bool) -> Datum {
    Datum::Int(args.iter().filter(|a| a.is_null() != nonnull).count() as i64)
}

/// `pg_size_pretty(bytes)`: bytes below 10 kB, else the largest unit (kB,
/// MB, GB, TB, PB) that keeps the number below 10240, rounded half away
/// from zero, as PostgreSQL's dbsize.c computes it (shifting by 10 bits
/// per unit, keeping one bit for the rounding).
pub fn size_pretty(bytes: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT2: i64 = LIMIT * 2 - 1;
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if bytes.abs() < LIMIT {
        return format!("{} bytes", bytes);
    }
    let mut size = bytes >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if size.abs() < LIMIT2 {
            return format!("{} {}", half_rounded(size), unit);
        }
        size >>= 10;
    }
    format!("{} PB", half_rounded(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_as_postgres_does() {
        assert_eq!(size_pretty(1024), "1024 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(1_000_000), "977 kB");
        assert_eq!(size_pretty(10_485_760), "10 MB");
        assert_eq!(size_pretty(-20_000), "-20 kB");
        assert_eq!(num_nulls(&[Datum::Int(1), Datum::Null, Datum::Null], false), Datum::Int(2));
        assert_eq!(num_nulls(&[Datum::Int(1), Datum::Null], true), Datum::Int(1));
    }
}
