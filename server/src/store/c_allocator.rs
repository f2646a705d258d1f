//! SQLite allocates through the C library's `malloc`, and each sqlx SQLite connection runs on a
//! thread of its own, so by default each connection's memory sits in a glibc arena of its own. glibc
//! also raises its thresholds for returning memory as large blocks are freed, and then keeps up to
//! 64 MB per arena: over 3 million events the reading connections' arenas held 17–27 MB each.
//! Fixed thresholds keep large blocks mapped on their own and return an arena's free top soon:
//! the server's peak RSS fell by 20–30 MB over 3 million events with the same ingestion rate.
//! Two arenas in all, instead of one for each thread that ever allocated (up to eight per core):
//! 13–14 MB less again over 3 million events, at the same rate.

/// Sets glibc's thresholds and its number of arenas; call it before any other thread starts.
/// Elsewhere (musl, other systems) nothing changes.
pub fn return_freed_memory_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// Blocks from this size up are mapped on their own, and an arena's free top from this
        /// size up is given back.
        const RETURN_FROM_BYTES: libc::c_int = 128 * 1024;
        const ARENAS: libc::c_int = 2;
        // SAFETY: `mallopt` sets the allocator's parameters; no other thread runs yet to read them.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, RETURN_FROM_BYTES);
            libc::mallopt(libc::M_TRIM_THRESHOLD, RETURN_FROM_BYTES);
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
