//! The allocator's options: memory freed is given back to the system soon.
//!
//! mimalloc 3 by default commits its arenas whole and keeps freed memory for a second. An
//! ingest frees its buffers chunk after chunk, so its peak RSS counted chunks long gone: 265
//! MB on the 343 MB orders file, against 185 MB with these options, at the same speed within
//! the measurement's noise (`make bench-ingest` prints the figures).

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_e`; the Rust binding has no
/// constant for it.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
/// `mi_option_purge_delay`, likewise.
const PURGE_DELAY: mi_option_t = 15;
// The numbers above are those of the enum with this many options: a mimalloc that adds or
// renumbers options stops the build here.
const _: () = assert!(libmimalloc_sys::_mi_option_last == 47);

/// Freed memory is purged after 10 ms (mimalloc 2's default); arenas are committed as they
/// are used. Allocates nothing.
pub fn configure() {
    // SAFETY: setting an option is allowed at any time, from any thread.
    unsafe {
        mi_option_set(PURGE_DELAY, 10);
        mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// [`configure`] before anything is allocated: mimalloc reserves its first arena at the first
/// allocation, and the arena keeps the commit mode it had then; Rust's runtime allocates
/// before `main`. An ELF constructor of default priority runs after mimalloc's own (priority
/// 101), which reads the `MIMALLOC_*` environment, and before the runtime. Elsewhere `main`
/// calls [`configure`], and only arenas reserved after it are committed lazily.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_EARLY: extern "C" fn() = {
    extern "C" fn early() {
        configure();
    }
    early
};

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    #[test]
    fn freed_memory_is_purged_soon_and_arenas_committed_lazily() {
        configure();
        // SAFETY: reading an option is allowed at any time.
        let (delay, eager) = unsafe {
            (
                mi_option_get(PURGE_DELAY),
                mi_option_get(ARENA_EAGER_COMMIT),
            )
        };
        assert_eq!((delay, eager), (10, 0));
    }
}
