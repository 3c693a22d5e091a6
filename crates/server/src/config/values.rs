//! The value syntaxes zoo.cfg keys share (numbers, booleans), for every parser of the
//! configuration.

use super::error::{ConfigError, invalid};

/// A number of type `T`, or the error naming `key` and `value`.
pub fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(key, value, "not a valid number"))
}

/// `true`/`yes` or `false`/`no` (any case), or the error naming `key` and `value`.
pub fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    // Java's Boolean.parseBoolean: "true" in any case is true, anything else false; we are
    // stricter and refuse values that are neither, since a typo there is surely a mistake.
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(invalid(key, value, "expected true or false")),
    }
}
