//! How freed memory goes back to the system.

/// Make every large allocation (128 KiB and more) its own mapping, returned to the system as
/// soon as it is freed. glibc otherwise raises that threshold to the size of the largest
/// mapping freed so far (up to 32 MiB), so once the language check frees the multilingual
/// model's buffers, the text encoder's tensors land in the heap and stay counted: the 65 s
/// sample session peaked at 305 MB with the dynamic threshold and 259 MB with a fixed one, at
/// the same wall time (farm-bench, 5 alternating pairs: 1.01).
pub fn return_freed_memory_promptly() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, RETURN_THRESHOLD);
    }
}

/// The mmap threshold [`return_freed_memory_promptly`] fixes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const RETURN_THRESHOLD: i32 = 128 * 1024;

/// Run `f` with freed heap memory kept for reuse instead of handed back at once, then hand it
/// back. The text encoder allocates and frees tensors of several MB per layer and batch; with
/// the fixed 128 KiB mmap threshold above, each is a fresh mapping whose pages are touched anew:
/// a `tag` of 1,000 real statements on 2 cores took 4.97 million page faults and 11.2 s of system
/// time in 14.5 s. While text is encoded, buffers under 32 MiB come from the heap and 64 MiB of
/// its top is kept when it shrinks: 0.23 million faults, 7.7 s. (The mmap threshold alone: 1.4
/// million faults, 8.5 s.) Kept for the whole process, the same settings made the sample session
/// 20 % faster but raised its peak from 294 to 381 MB, so they hold only around the encoder;
/// with them there the sample session peaks at 295 MB.
pub fn keeping_freed_pages<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's default M_TOP_PAD (DEFAULT_TOP_PAD, 128 KiB).
        const DEFAULT_TOP_PAD: i32 = 128 * 1024;
        /// With the threshold below, 16 MiB was 6 % slower than 64 (farm-bench, 3 pairs), at the
        /// same peak.
        const ENCODING_TOP_PAD: i32 = 64 << 20;
        /// Above MiniLM's largest usual buffer: 32 texts of 60 tokens by 1,536 features is 12 MB.
        const ENCODING_MMAP_THRESHOLD: i32 = 32 << 20;
        /// How many encodings are under way: `batch` runs recordings side by side, and the
        /// settings go back only when the last of them is done (counted and changed under one
        /// lock, so one ending cannot undo another's start).
        static ENCODING: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
        {
            let mut active = ENCODING.lock().unwrap_or_else(|e| e.into_inner());
            if *active == 0 {
                // SAFETY: mallopt only changes allocator settings, and glibc documents it as
                // safe while other threads allocate.
                unsafe {
                    libc::mallopt(libc::M_TOP_PAD, ENCODING_TOP_PAD);
                    libc::mallopt(libc::M_MMAP_THRESHOLD, ENCODING_MMAP_THRESHOLD);
                }
            }
            *active += 1;
        }
        let out = f();
        let mut active = ENCODING.lock().unwrap_or_else(|e| e.into_inner());
        *active -= 1;
        if *active == 0 {
            // SAFETY: as above; malloc_trim only returns free memory to the system.
            unsafe {
                libc::mallopt(libc::M_TOP_PAD, DEFAULT_TOP_PAD);
                libc::mallopt(libc::M_MMAP_THRESHOLD, RETURN_THRESHOLD);
                libc::malloc_trim(0);
            }
        }
        out
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    f()
}
