//! The monitoring numbers as values, and their three renderings: the `mntr` four-letter word
//! (`zk_<name>\t<value>` lines), the admin `monitor` command (a JSON object) and Prometheus
//! text on `/metrics` (the names ZooKeeper's PrometheusMetricsProvider uses). Pure: no
//! access to the core or the shell.

use std::fmt::Write as _;

/// One value as ZooKeeper's metrics map holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A Java long.
    Int(i64),
    /// A Java double.
    Float(f64),
    /// A string (only `version` and `server_state`).
    Text(String),
}

impl Value {
    /// The value as `mntr` prints it (Java's `toString`: doubles keep a `.0`).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(i) => i.to_string(),
            Value::Float(f) => java_double(*f),
            Value::Text(s) => s.clone(),
        }
    }

    /// The value as the JSON `monitor` command gives it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Text(s) => s.clone().into(),
        }
    }
}

/// Java's `Double.toString` for the values that occur here (no exponent form).
pub fn java_double(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// Rounds to 4 decimals, as ZooKeeper's `ServerStats.getAvgLatency` does.
pub fn round4(f: f64) -> f64 {
    (f * 10_000.0).round() / 10_000.0
}

/// A named number (or string) of the monitoring set.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The name without `zk_` (the JSON key and the Prometheus name).
    pub name: &'static str,
    /// The value.
    pub value: Value,
}

/// A metric named `name`.
pub fn m(name: &'static str, value: Value) -> Metric {
    Metric { name, value }
}

/// The `mntr` four-letter-word text.
pub fn to_mntr(metrics: &[Metric]) -> String {
    let mut s = String::new();
    for x in metrics {
        let _ = writeln!(s, "zk_{}\t{}", x.name, x.value.to_text());
    }
    s
}

/// The admin `monitor` command's fields.
pub fn to_json(metrics: &[Metric]) -> serde_json::Map<String, serde_json::Value> {
    metrics
        .iter()
        .map(|x| (x.name.to_owned(), x.value.to_json()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(3.4286), "3.4286");
        assert_eq!(round4(10.0 / 3.0), 3.3333);
    }

    #[test]
    fn three_renderings_agree() {
        let metrics = vec![
            m("version", Value::Text("v".into())),
            m("znode_count", Value::Int(5)),
            m("avg_latency", Value::Float(0.5)),
        ];
        assert_eq!(
            to_mntr(&metrics),
            "zk_version\tv\nzk_znode_count\t5\nzk_avg_latency\t0.5\n"
        );
        let json = to_json(&metrics);
        assert_eq!(json["znode_count"], serde_json::json!(5));
        assert!(json["avg_latency"].is_f64());
    }
}
