//! What a reflector costs: CPU seconds and memory of a process and all its descendants,
//! read from /proc (FRR and OpenBGPD run several processes; their costs are summed).

use std::collections::HashMap;

/// /proc reports times in USER_HZ, fixed at 100 by the Linux ABI.
const USER_HZ: f64 = 100.0;

#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// utime+stime of every live process in the tree, plus what reaped children used.
    pub cpu: f64,
    /// The kernel's share of `cpu` (stime+cstime): on loopback that includes the receivers'
    /// TCP processing, which runs in the sender's softirq.
    pub sys: f64,
    /// Sum of VmHWM (peak resident set) over the tree, bytes. Pages shared between the
    /// processes of a multi-process daemon are counted once per process.
    pub peak_rss: u64,
    /// Sum of VmRSS now, bytes.
    pub rss: u64,
    pub procs: usize,
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// `root` and every live descendant of it.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // Field 4 of stat (index 1 after the command name) is the parent's pid.
            if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parent.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = parent.get(&out[i]) {
            out.extend(kids.iter().copied());
        }
        i += 1;
    }
    out.retain(|&p| std::path::Path::new(&format!("/proc/{p}")).exists());
    out
}

/// CPU seconds the calling thread has used (user and system). The floor's writers
/// read it around their one big write, which is the kernel's cost of delivering the stream
/// with no reflector in between: what a reflector's CPU is to be judged against.
pub fn thread_cpu() -> f64 {
    // SAFETY: `rusage` is plain data, so all zeroes is a valid value, and getrusage only
    // writes into the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_THREAD needs nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// CPU and memory of `root`'s process tree now.
pub fn usage(root: u32) -> Usage {
    let mut u = Usage::default();
    for pid in tree(root) {
        let Some(f) = stat_fields(pid) else { continue };
        // utime, stime, cutime, cstime are stat fields 14..=17 (indexes 11..=14 here).
        let ticks: f64 = (11..=14)
            .filter_map(|i| f.get(i)?.parse::<f64>().ok())
            .sum();
        u.cpu += ticks / USER_HZ;
        let sys: f64 = [12, 14]
            .iter()
            .filter_map(|&i| f.get(i)?.parse::<f64>().ok())
            .sum();
        u.sys += sys / USER_HZ;
        u.peak_rss += status_kb(pid, "VmHWM:") * 1024;
        u.rss += status_kb(pid, "VmRSS:") * 1024;
        u.procs += 1;
    }
    u
}
