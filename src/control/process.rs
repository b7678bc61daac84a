//! The `process_*` series Prometheus client libraries export (CPU seconds, resident and
//! virtual memory, open and maximum file descriptors, start time), read from Linux's /proc
//! at scrape time the way client_golang's procfs does. A value that cannot be read is left
//! out rather than reported as 0.

use crate::metrics::{self as m, Page};

/// The clock tick of /proc times: the kernel reports them in USER_HZ, which is 100 on every
/// Linux ABI whatever the kernel's own HZ (procfs hard-codes it too).
const USER_HZ: f64 = 100.0;

#[derive(Debug, Default, PartialEq)]
pub struct Process {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl Process {
    pub fn read() -> Process {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let stat = read("/proc/self/stat");
        let stat = stat.as_deref().and_then(stat_fields);
        let status = read("/proc/self/status").unwrap_or_default();
        let boot = read("/proc/stat").and_then(|s| boot_time(&s));
        Process {
            cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / USER_HZ),
            resident_bytes: status_kib(&status, "VmRSS").map(|k| k * 1024),
            virtual_bytes: stat.map(|s| s.vsize),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            max_fds: read("/proc/self/limits").and_then(|l| max_open_files(&l)),
            start_time_seconds: stat
                .zip(boot)
                .map(|(s, b)| b as f64 + s.starttime as f64 / USER_HZ),
        }
    }

    pub fn render(&self, page: &mut Page) {
        if let Some(v) = self.cpu_seconds {
            page.sample(m::PROCESS_CPU, &[], v);
        }
        if let Some(v) = self.resident_bytes {
            page.sample(m::PROCESS_RESIDENT, &[], v);
        }
        if let Some(v) = self.virtual_bytes {
            page.sample(m::PROCESS_VIRTUAL, &[], v);
        }
        if let Some(v) = self.open_fds {
            page.sample(m::PROCESS_OPEN_FDS, &[], v);
        }
        if let Some(v) = self.max_fds {
            page.sample(m::PROCESS_MAX_FDS, &[], v);
        }
        if let Some(v) = self.start_time_seconds {
            page.sample(m::PROCESS_START_TIME, &[], v);
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
}

/// proc(5) /proc/pid/stat: fields 14, 15, 22 and 23, counted after the command name, which
/// is in parentheses and may itself hold spaces and parentheses.
fn stat_fields(s: &str) -> Option<Stat> {
    let rest = &s[s.rfind(')')? + 1..];
    // `rest` starts at field 3 (state).
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
        vsize: field(23)?,
    })
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}

/// The soft limit in /proc/self/limits ("unlimited" has no number to report).
fn max_open_files(limits: &str) -> Option<u64> {
    let l = limits.lines().find(|l| l.starts_with("Max open files"))?;
    l["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (reflectd (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 75 0 0 20 0 12 0 98765 123456789 2048 18446744073709551615";
        let s = stat_fields(line).expect("parsed");
        assert_eq!(
            s,
            Stat {
                utime: 250,
                stime: 75,
                starttime: 98765,
                vsize: 123456789
            }
        );
    }

    #[test]
    fn status_limits_and_boot_time_lines_are_read() {
        assert_eq!(
            status_kib("Name:\tx\nVmRSS:\t   1234 kB\n", "VmRSS"),
            Some(1234)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn this_process_reports_every_value() {
        let p = Process::read();
        assert!(p.cpu_seconds.is_some());
        assert!(p.resident_bytes.is_some_and(|v| v > 0));
        assert!(p.virtual_bytes.is_some_and(|v| v > 0));
        assert!(p.open_fds.is_some_and(|v| v > 0));
        assert!(p.max_fds.is_some_and(|v| v > 0));
        assert!(p.start_time_seconds.is_some_and(|v| v > 1e9));
    }
}
