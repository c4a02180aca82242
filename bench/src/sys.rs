//! Process measurements from the kernel: CPU time, resident memory, open descriptors, CPU pinning.

use std::{fs, io, time::Duration};

/// User and system CPU time this process has used so far, every thread included.
pub fn self_cpu_split() -> (Duration, Duration) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete `rusage` into the pointer it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    // SAFETY: initialised by the successful call above (and zeroed before).
    let usage = unsafe { usage.assume_init() };
    (timeval(usage.ru_utime), timeval(usage.ru_stime))
}

/// Peak resident set size of this process so far, in KiB (`ru_maxrss`).
pub fn self_max_rss_kib() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: as in `self_cpu`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: as in `self_cpu`.
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
}

/// Current resident set size of this process in KiB, from `/proc/self/statm`.
pub fn self_rss_kib() -> io::Result<u64> {
    let statm = fs::read_to_string("/proc/self/statm")?;
    let resident_pages = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| io::Error::other("unexpected /proc/self/statm format"))?;
    Ok(resident_pages * page_size() / 1024)
}

/// Open file descriptors of this process, counted in `/proc/self/fd`.
pub fn self_open_fds() -> io::Result<u64> {
    // The directory handle used for counting is itself one entry; leave it out.
    Ok(fs::read_dir("/proc/self/fd")?.count().saturating_sub(1) as u64)
}

/// CPU time (user + system) used so far by process `pid`, every thread included, from
/// `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> io::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat_cpu(&stat, clock_ticks())
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat format")))
}

/// utime + stime from a `/proc/PID/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat_cpu(stat: &str, ticks_per_s: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state(3) ... utime is field 14, stime field 15; `rest` starts at field 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_secs_f64(ticks as f64 / ticks_per_s as f64))
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// Number of CPUs this machine has online.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Restrict the calling process (and the threads and children it creates from now on) to one
/// CPU. Threads that already exist keep their mask.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it.
    let rc = unsafe {
        let mut set = std::mem::zeroed::<libc::cpu_set_t>();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raise this process's open-file limit as far as allowed, up to `want`; returns the soft
/// limit now in force. Many lookups in flight need many sockets: a resolver should not fail a
/// memory test for lack of descriptors the machine would give it.
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write one `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_max < want {
        let higher = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        // Only privileged processes may raise the hard limit; otherwise keep it.
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &higher) } == 0 {
            return Ok(want);
        }
    }
    lim.rlim_cur = lim.rlim_max.min(want);
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim.rlim_cur)
}

/// The 1, 5 and 15 minute load averages, from `/proc/loadavg`.
pub fn load_average() -> io::Result<[f64; 3]> {
    let text = fs::read_to_string("/proc/loadavg")?;
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>());
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Ok([a, b, c]),
        _ => Err(io::Error::other("unexpected /proc/loadavg format")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_counts_from_the_last_parenthesis() {
        // A command name with a space and a parenthesis, as the kernel reports it.
        let line =
            "1234 (we ird) x) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 7 0 0";
        assert_eq!(parse_stat_cpu(line, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat_cpu("garbage", 100), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64);
        }
        let (user, system) = self_cpu_split();
        assert!(user + system > Duration::ZERO);
        assert!(self_rss_kib().unwrap() > 0);
        assert!(self_max_rss_kib() > 0);
        // Other tests in this process open and close sockets, so only a lower bound holds:
        // stdin, stdout, stderr and the file opened here.
        let f = fs::File::open("/proc/self/statm").unwrap();
        assert!(self_open_fds().unwrap() >= 4);
        drop(f);
        assert!(process_cpu(std::process::id()).is_ok());
        assert!(load_average().unwrap()[0] >= 0.0);
        // Asking for no more than the current soft limit changes nothing and cannot fail.
        assert!(raise_fd_limit(64).unwrap() >= 64);
    }
}
