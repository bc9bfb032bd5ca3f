//! Strict calendar-date parsing for every date the API accepts.
//!
//! The contract fixes dates as `YYYY-MM-DD`. chrono's `%Y-%m-%d` is lenient (it accepts
//! `2024-1-5`, signs and extra year digits), which would let two spellings of one date into the
//! database, so the shape is checked by hand before chrono checks the calendar.

use chrono::NaiveDate;

/// Parses exactly `YYYY-MM-DD` (ten ASCII characters, a real calendar date). No trimming.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err("must be a date in YYYY-MM-DD format".to_string());
    }
    let num = |r: std::ops::Range<usize>| -> u32 { b[r].iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')) };
    let year = num(0..4) as i32;
    NaiveDate::from_ymd_opt(year, num(5..7), num(8..10)).ok_or_else(|| "is not a real calendar date".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ymd = (i32, u32, u32);

    #[test]
    fn accepts_only_real_dates_written_yyyy_mm_dd() {
        let cases: &[(&str, Option<Ymd>)] = &[
            ("2024-01-15", Some((2024, 1, 15))),
            ("2024-02-29", Some((2024, 2, 29))),
            ("0001-01-01", Some((1, 1, 1))),
            ("9999-12-31", Some((9999, 12, 31))),
            ("2023-02-29", None),
            ("2024-13-01", None),
            ("2024-00-10", None),
            ("2024-04-31", None),
            ("2024-1-5", None),
            ("2024-01-5", None),
            ("24-01-15", None),
            ("+2024-01-15", None),
            ("20240115", None),
            ("2024/01/15", None),
            (" 2024-01-15", None),
            ("2024-01-15 ", None),
            ("2024-01-15T00:00:00Z", None),
            ("", None),
            ("２０２４-01-15", None),
        ];
        for (input, expected) in cases {
            let got = parse_date(input).ok();
            let want = expected.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
            assert_eq!(got, want, "input {input:?}");
        }
    }

    #[test]
    fn wrong_shape_and_impossible_day_have_distinct_messages() {
        assert_eq!(parse_date("15/01/2024").unwrap_err(), "must be a date in YYYY-MM-DD format");
        assert_eq!(parse_date("2023-02-29").unwrap_err(), "is not a real calendar date");
    }
}
