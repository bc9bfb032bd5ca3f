//! Dates and instants written straight into JSON answers. chrono's serialisation goes through
//! `core::fmt` a character at a time, and on the border question that cost more than the rest of
//! the answer's serialisation together. Output is the same ISO 8601 / RFC 3339 text.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::Serializer;

/// `YYYY-MM-DD`, for `#[serde(serialize_with = "wire::date")]`.
pub fn date<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = [0u8; 10];
    match write_date(date, &mut out) {
        Some(()) => serializer.serialize_str(ascii(&out)),
        None => serializer.collect_str(date),
    }
}

/// An optional `YYYY-MM-DD` (null when absent).
pub fn optional_date<S: Serializer>(date: &Option<NaiveDate>, serializer: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => self::date(date, serializer),
        None => serializer.serialize_none(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, UTC).
pub fn instant<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    match write_date(&at.date_naive(), &mut out[..10]) {
        Some(()) => {
            let time = at.time();
            digits(&mut out[11..13], time.hour());
            digits(&mut out[14..16], time.minute());
            digits(&mut out[17..19], time.second());
            // A leap second shows as :59.999999 rather than :60, which RFC 3339 allows but few read.
            digits(&mut out[20..26], (time.nanosecond() / 1_000).min(999_999));
            serializer.serialize_str(ascii(&out))
        }
        None => serializer.collect_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
    }
}

/// Writes a four-digit-year date into `out[..10]`; `None` for years outside 0..=9999.
fn write_date(date: &NaiveDate, out: &mut [u8]) -> Option<()> {
    let year = u32::try_from(date.year()).ok().filter(|year| *year <= 9999)?;
    digits(&mut out[0..4], year);
    out[4] = b'-';
    digits(&mut out[5..7], date.month());
    out[7] = b'-';
    digits(&mut out[8..10], date.day());
    Some(())
}

/// `value` in decimal, right-aligned and zero-padded to the width of `out`.
fn digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn ascii(bytes: &[u8]) -> &str {
    // Only ASCII digits and separators are ever written.
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Shown {
        #[serde(serialize_with = "date")]
        date: NaiveDate,
        #[serde(serialize_with = "optional_date")]
        maybe: Option<NaiveDate>,
        #[serde(serialize_with = "instant")]
        at: DateTime<Utc>,
    }

    fn shown(date: NaiveDate, maybe: Option<NaiveDate>, at: DateTime<Utc>) -> serde_json::Value {
        serde_json::to_value(Shown { date, maybe, at }).unwrap_or_default()
    }

    #[test]
    fn dates_and_instants_read_back_as_what_chrono_writes() {
        let cases = [
            ("2026-12-01", "2026-12-01T08:03:32.632572487Z", "2026-12-01T08:03:32.632572Z"),
            ("0001-01-01", "1999-12-31T23:59:59Z", "1999-12-31T23:59:59.000000Z"),
            ("9999-12-31", "2024-02-29T00:00:00.000001Z", "2024-02-29T00:00:00.000001Z"),
        ];
        for (day, at, want) in cases {
            let date: NaiveDate = day.parse().unwrap_or_default();
            let at: DateTime<Utc> = at.parse().unwrap_or_default();
            let value = shown(date, Some(date), at);
            assert_eq!(value["date"], day);
            assert_eq!(value["maybe"], day);
            assert_eq!(value["at"], want);
            let back: DateTime<Utc> = value["at"].as_str().unwrap_or_default().parse().unwrap_or_default();
            assert_eq!(back.timestamp_micros(), at.timestamp_micros());
        }
    }

    #[test]
    fn years_beyond_four_digits_fall_back_to_chrono() {
        let far = NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap_or_default();
        let value = shown(far, None, Utc::now());
        assert_eq!(value["date"], far.to_string());
        assert_eq!(value["maybe"], serde_json::Value::Null);
    }
}
