//! Keeping the harness and the reflector on separate CPUs (`compare --harness-cpus 0
//! --reflector-cpus 1`). On a small machine the sinks' threads otherwise share the
//! reflector's cores, and a latency tail then measures the scheduler as much as the
//! reflector. Every daemon gets the same CPUs, so the comparison stays fair.

use std::process::Command;

/// A CPU list as `taskset -c` takes it: "1", "0-3", "0,2-3".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpus(Vec<usize>);

impl Cpus {
    pub fn parse(s: &str) -> Result<Cpus, String> {
        let bad = || format!("bad CPU list {s:?}: want e.g. 1, 0-3 or 0,2-3");
        let mut cpus = Vec::new();
        for part in s.split(',') {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part.trim(), part.trim()),
            };
            let lo: usize = lo.parse().map_err(|_| bad())?;
            let hi: usize = hi.parse().map_err(|_| bad())?;
            if lo > hi || hi >= libc::CPU_SETSIZE as usize {
                return Err(bad());
            }
            cpus.extend(lo..=hi);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(Cpus(cpus))
    }

    fn set(&self) -> libc::cpu_set_t {
        // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set, and CPU_SET
        // is given indexes below CPU_SETSIZE (checked in `parse`).
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &c in &self.0 {
                libc::CPU_SET(c, &mut set);
            }
            set
        }
    }

    /// Confines the calling thread, and every thread it starts from now on, to these CPUs.
    pub fn apply_here(&self) -> Result<(), String> {
        let set = self.set();
        // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is this thread.
        let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
        if rc != 0 {
            return Err(format!(
                "sched_setaffinity {:?}: {}",
                self.0,
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// Starts `cmd` confined to these CPUs (its threads and children inherit them).
    pub fn apply_to(&self, cmd: &mut Command) {
        use std::os::unix::process::CommandExt;
        let set = self.set();
        // SAFETY: the closure runs in the forked child before exec and only makes one
        // system call, which is async-signal-safe; `set` was built before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

impl std::fmt::Display for Cpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&list.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_taskset() {
        assert_eq!(Cpus::parse("1"), Ok(Cpus(vec![1])));
        assert_eq!(Cpus::parse("0-2"), Ok(Cpus(vec![0, 1, 2])));
        assert_eq!(Cpus::parse("3,0-1,1"), Ok(Cpus(vec![0, 1, 3])));
        for bad in ["", "a", "2-1", "1-", "99999"] {
            assert!(Cpus::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_child_runs_on_the_cpus_it_was_given() {
        // The last CPU this test may use (a container may not offer CPU 0).
        let cpu = (core_affinity::get_core_ids().expect("CPU ids").last())
            .expect("one CPU")
            .id
            .to_string();
        let mut cmd = Command::new("grep");
        cmd.args(["Cpus_allowed_list", "/proc/self/status"]);
        Cpus::parse(&cpu).unwrap().apply_to(&mut cmd);
        let out = cmd.output().expect("grep runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.split_whitespace().last(), Some(cpu.as_str()), "{text}");
    }
}
