//! RFC 3339 timestamps in UTC with whole seconds, the form `updated_at` is written in.

use std::time::SystemTime;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats `at` as RFC 3339 in UTC with whole seconds, for example `2024-05-01T12:30:00Z`.
pub fn format_rfc3339(at: SystemTime) -> String {
    let utc = OffsetDateTime::from(at);
    let whole_seconds = utc.replace_nanosecond(0).unwrap_or(utc);
    whole_seconds
        .format(&Rfc3339)
        .unwrap_or_else(|error| unreachable!("RFC 3339 formats every year from 0 to 9999: {error}"))
}

/// Returns the current time as RFC 3339 in UTC with whole seconds.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::format_rfc3339;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(format_rfc3339(leap_day), "2024-02-29T12:34:56Z");
    }
}
