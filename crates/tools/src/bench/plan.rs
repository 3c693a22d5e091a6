//! A benchmark run of several workloads against one server: checks first how many
//! connections the server takes from one address (`maxClientCnxns`) and fits the workloads
//! to it, reports each workload as it starts, and says at the end how many transactions the
//! run left in the server's data directory and how to purge them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BenchConfig, BenchResult, Workload, bench_root, run};
use crate::client::ClientError;
use crate::pipeline::member;

/// ZooKeeper's default `maxClientCnxns`.
pub const ZOOKEEPER_DEFAULT_MAX_CNXNS: usize = 60;

/// The server's limit on connections from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Connections allowed from one address; 0 = no limit.
    pub per_address: usize,
    /// Where the number comes from, for the report.
    pub source: &'static str,
}

impl Limit {
    /// Whether `n` connections at once fit.
    pub fn allows(&self, n: usize) -> bool {
        self.per_address == 0 || n <= self.per_address
    }
}

/// The workloads still to run and what is known about the server.
pub struct Plan {
    workloads: Vec<Workload>,
    done: usize,
    limit: Limit,
    zxid_before: Option<i64>,
    started: Instant,
}

impl Plan {
    /// Asks the server `srvr` (it must answer) and `conf` (for `maxClientCnxns`, unless
    /// `given`), and prints what will run on stderr.
    pub async fn prepare(
        config: &BenchConfig,
        workloads: &[Workload],
        given: Option<usize>,
    ) -> Result<Plan, ClientError> {
        let srvr = four_letter(member(&config.target, 0), "srvr").await?;
        let limit = match given {
            Some(n) => Limit {
                per_address: n,
                source: "--max-client-cnxns",
            },
            None => match four_letter(member(&config.target, 0), "conf")
                .await
                .ok()
                .and_then(|t| conf_max_cnxns(&t))
            {
                Some(n) => Limit {
                    per_address: n,
                    source: "the server's `conf`",
                },
                None => Limit {
                    per_address: ZOOKEEPER_DEFAULT_MAX_CNXNS,
                    source: "assumed, ZooKeeper's default: the server does not answer `conf` (4lw.commands.whitelist); pass --max-client-cnxns N if it differs",
                },
            },
        };
        let version = srvr
            .lines()
            .find_map(|l| l.strip_prefix("Zookeeper version: "))
            .unwrap_or("unknown version");
        let per = config.duration.as_secs_f64();
        eprintln!(
            "menagerie bench: {} ({}), {} workloads of {per:.0} s each (about {:.0} s), maxClientCnxns {} ({})",
            config.target,
            version.split(',').next().unwrap_or(version),
            workloads.len(),
            per * workloads.len() as f64 * 1.05,
            match limit.per_address {
                0 => "unlimited".to_string(),
                n => n.to_string(),
            },
            limit.source
        );
        eprintln!(
            "menagerie bench: nodes go under {} and are deleted after each workload; if the run is interrupted: menagerie cli -server {} deleteall {}",
            bench_root(),
            config.target,
            bench_root()
        );
        Ok(Plan {
            workloads: workloads.to_vec(),
            done: 0,
            limit,
            zxid_before: zxid(&srvr),
            started: Instant::now(),
        })
    }

    /// Runs the next workload that fits the connection limit (reporting those that do not
    /// and why); `None` when all are done.
    pub async fn next(&mut self, config: &BenchConfig) -> Result<Option<BenchResult>, ClientError> {
        while let Some(&w) = self.workloads.get(self.done) {
            self.done += 1;
            let step = format!("[{}/{}] {}", self.done, self.workloads.len(), w.name());
            let Some(fitted) = self.fit(config, w, &step) else {
                continue;
            };
            eprintln!(
                "{step}: {} sessions x {} outstanding{}",
                fitted.sessions,
                fitted.outstanding,
                match w {
                    Workload::Populate(..) => String::new(),
                    _ => format!(", {:.0} s", fitted.duration.as_secs_f64()),
                }
            );
            return run(&fitted, w).await.map(Some);
        }
        Ok(None)
    }

    /// `config` fitted to the connection limit for `w`, or `None` (reported) if `w` cannot
    /// run within it.
    fn fit(&self, config: &BenchConfig, w: Workload, step: &str) -> Option<BenchConfig> {
        let limit = self.limit;
        let change = "set maxClientCnxns=0 in the server's zoo.cfg, and pass --max-client-cnxns 0 if the server does not answer `conf`";
        match w {
            Workload::WatchFanout(n) if !limit.allows(n + 2) => {
                eprintln!(
                    "{step}: skipped: needs {} connections from this address and the server allows {}: {change}",
                    n + 2,
                    limit.per_address
                );
                None
            }
            // Session churn: a closing connection may still count while its loop opens the
            // next, so each loop may hold two.
            Workload::Sessions if !limit.allows(2 * config.sessions * config.outstanding + 1) => {
                let loops = (limit.per_address.saturating_sub(1) / 2).max(1);
                eprintln!(
                    "{step}: {} concurrent session loops would pass maxClientCnxns={}, running {loops}; for all of them {change}",
                    config.sessions * config.outstanding,
                    limit.per_address,
                );
                Some(BenchConfig {
                    sessions: loops,
                    outstanding: 1,
                    ..config.clone()
                })
            }
            _ if !limit.allows(config.sessions + 2) => {
                eprintln!(
                    "{step}: skipped: {} sessions need {} connections and the server allows {}: use --sessions {} or {change}",
                    config.sessions,
                    config.sessions + 2,
                    limit.per_address,
                    limit.per_address.saturating_sub(2).max(1)
                );
                None
            }
            _ => Some(config.clone()),
        }
    }

    /// Prints how long the run took and how many transactions it left in the server's
    /// transaction log, with how to purge them.
    pub async fn finish(&self, config: &BenchConfig) {
        let after = four_letter(member(&config.target, 0), "srvr")
            .await
            .ok()
            .and_then(|t| zxid(&t));
        eprintln!(
            "menagerie bench: done in {:.0} s",
            self.started.elapsed().as_secs_f64()
        );
        if let (Some(before), Some(after)) = (self.zxid_before, after)
            && after > before
        {
            eprintln!(
                "menagerie bench: the server logged {} transactions (zxid {before:#x} to {after:#x}); the nodes are deleted, but the \
                 transaction logs and snapshots stay in its data directory until purged: on the server, run \
                 `menagerie purge DATADIR` (ZooKeeper: zkCleanup.sh -n 3), or set autopurge.purgeInterval=1 in zoo.cfg",
                after - before
            );
        }
    }
}

/// `maxClientCnxns=60` from a `conf` answer.
pub fn conf_max_cnxns(conf: &str) -> Option<usize> {
    conf.lines()
        .find_map(|l| l.strip_prefix("maxClientCnxns="))
        .and_then(|v| v.trim().parse().ok())
}

/// The `Zxid: 0x...` of a `srvr` answer.
pub fn zxid(srvr: &str) -> Option<i64> {
    let hex = srvr.lines().find_map(|l| l.strip_prefix("Zxid: "))?;
    i64::from_str_radix(hex.trim().trim_start_matches("0x"), 16).ok()
}

/// Sends a four-letter word and reads the answer to the end (5 s at most).
async fn four_letter(target: &str, word: &str) -> Result<String, ClientError> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(target).await?;
        s.write_all(word.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    match tokio::time::timeout(Duration::from_secs(5), io).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(ClientError::Protocol(format!(
            "no answer to {word} within 5 s"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conf_and_srvr() {
        assert_eq!(
            conf_max_cnxns("clientPort=2181\nmaxClientCnxns=60\n"),
            Some(60)
        );
        assert_eq!(
            conf_max_cnxns("conf is not executed because it is not in the whitelist.\n"),
            None
        );
        assert_eq!(
            zxid("Zookeeper version: x\nZxid: 0x1a\nMode: standalone\n"),
            Some(26)
        );
    }

    fn config() -> BenchConfig {
        BenchConfig {
            target: "127.0.0.1:1".into(),
            sessions: 16,
            outstanding: 16,
            duration: Duration::from_secs(1),
            rate: None,
            progress: false,
        }
    }

    fn plan(per_address: usize) -> Plan {
        Plan {
            workloads: Vec::new(),
            done: 0,
            limit: Limit {
                per_address,
                source: "test",
            },
            zxid_before: None,
            started: Instant::now(),
        }
    }

    #[test]
    fn fits_workloads_to_the_connection_limit() {
        let c = config();
        let p = plan(60);
        assert!(p.fit(&c, Workload::WatchFanout(1000), "").is_none());
        assert!(p.fit(&c, Workload::WatchFanout(50), "").is_some());
        let s = p.fit(&c, Workload::Sessions, "").expect("sessions run");
        assert!(2 * s.sessions * s.outstanding < 60, "{s:?}");
        assert_eq!(
            p.fit(&c, Workload::GetData, "").map(|c| c.sessions),
            Some(16)
        );
        let many = BenchConfig {
            sessions: 100,
            ..c.clone()
        };
        assert!(p.fit(&many, Workload::GetData, "").is_none());
        let unlimited = plan(0);
        assert!(unlimited.fit(&c, Workload::WatchFanout(1000), "").is_some());
        assert_eq!(
            unlimited
                .fit(&c, Workload::Sessions, "")
                .map(|c| c.outstanding),
            Some(16)
        );
    }
}
