//! `--threads N`: how many cores sluice keeps busy.
//!
//! N sets the async runtime's worker threads and the steps' own pools (`Context::threads`).
//! On Linux the process is also pinned to N of the CPUs it may use, before any thread starts,
//! so every thread it ever runs shares those N cores: `--threads 1` uses one core, whatever
//! the work's shape. Elsewhere only the worker threads and pools follow N.
//!
//! The runtime's blocking pool runs short file operations only (the steps read files on
//! threads of their own, bounded by `--jobs`), and is capped at [`BLOCKING_THREADS`]: each of
//! its threads keeps some allocator memory, and the default cap of 512, reached when hundreds
//! of small files arrive at once, held a gigabyte for no gain.

/// Threads of the runtime's blocking pool, at most. Measured on 1,000 small files at once:
/// 16 threads, 250 MB peak RSS and 10.6 s; 64, 531 MB and 11.7 s; uncapped (225 threads),
/// 1.36 GB and 21 s.
pub const BLOCKING_THREADS: usize = 16;

/// The runtime for `threads` cores (`None`: every available core).
pub fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    builder.max_blocking_threads(BLOCKING_THREADS);
    if let Some(n) = threads {
        pin_to_cores(n)?;
        builder.worker_threads(n);
    }
    builder.build()
}

/// Restricts this process to the first `n` CPUs of its current affinity mask. Must run before
/// other threads start: threads inherit their creator's mask.
#[cfg(target_os = "linux")]
fn pin_to_cores(n: usize) -> std::io::Result<()> {
    use std::mem::{size_of, zeroed};
    // SAFETY: cpu_set_t is a plain bit array, valid when zeroed; the calls get its true size
    // and pid 0 (this thread, inherited by every thread it starts).
    unsafe {
        let mut allowed: libc::cpu_set_t = zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if usize::try_from(libc::CPU_COUNT(&allowed)).unwrap_or(0) <= n {
            return Ok(());
        }
        let mut chosen: libc::cpu_set_t = zeroed();
        let mut left = n;
        for cpu in 0..libc::CPU_SETSIZE as usize {
            if left == 0 {
                break;
            }
            if libc::CPU_ISSET(cpu, &allowed) {
                libc::CPU_SET(cpu, &mut chosen);
                left -= 1;
            }
        }
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &chosen) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn pin_to_cores(_n: usize) -> std::io::Result<()> {
    Ok(())
}
