//! Counts as people read them: `1 item`, `2 items`, `0 items`. Every
//! "N noun" of the output goes through [`count`], so no message says
//! `1 orphans kept` or `The last 1 runs`.

use std::fmt::Display;

/// `n` and the noun in the form that agrees with it: `one` for exactly 1,
/// `many` otherwise (English uses the plural for 0 too). Both forms are
/// given, since plurals are not all regular (`entry`, `entries`).
#[must_use]
pub fn count<N>(n: N, one: &str, many: &str) -> String
where
    N: Display + PartialEq + From<u8> + Copy,
{
    format!("{n} {}", of(n, one, many))
}

/// The word alone that agrees with `n`: `one` for exactly 1, `many`
/// otherwise; for verbs that follow a count (`1 of 3 operations was`).
#[must_use]
pub fn of<'a, N>(n: N, one: &'a str, many: &'a str) -> &'a str
where
    N: PartialEq + From<u8> + Copy,
{
    if n == N::from(1) { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_many_take_the_plural_and_one_the_singular() {
        assert_eq!(count(0_u64, "item", "items"), "0 items");
        assert_eq!(count(1_u64, "item", "items"), "1 item");
        assert_eq!(count(2_u64, "item", "items"), "2 items");
        assert_eq!(count(1_usize, "entry", "entries"), "1 entry");
        assert_eq!(count(12_345_u32, "entry", "entries"), "12345 entries");
        assert_eq!(of(1_usize, "was", "were"), "was");
        assert_eq!(of(0_usize, "was", "were"), "were");
        assert_eq!(of(2_usize, "was", "were"), "were");
    }
}
