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
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
