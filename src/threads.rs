//! Threads that run beside the main thread for a millisecond or two: the dirty check's stat
//! pass, the tag read.
//!
//! Linux queues a new thread on its parent's core, and an idle core takes it over only at
//! its next load balance. On the 2-core machines this project is measured on, a thread
//! spawned while its parent went on working started 1.7 to 3.5 ms later in 5 of 6 tries (a C
//! test: spawn, then spin until the thread runs), so work meant to overlap for a millisecond
//! did not overlap at all. Moving the spawning thread to another allowed core for an instant
//! (two `sched_setaffinity` calls, about 35 µs) leaves the new thread the core it was queued
//! on: it started within 100 µs in every try. Elsewhere, or with one core allowed, nothing
//! is moved.

use std::thread::JoinHandle;

/// Spawns `f` on a thread named `name`, where it can start at once ([`step_aside`]).
/// `None` when no thread can be started: the caller does the work itself.
pub(crate) fn spawn<T, F>(name: &str, f: F) -> Option<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .ok()?;
    step_aside();
    Some(handle)
}

/// Moves the calling thread to another core it may run on, then lets it run anywhere
/// again, so that the threads it just spawned can run on the core they were queued on.
#[cfg(target_os = "linux")]
pub(crate) fn step_aside() {
    use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity};
    let Ok(allowed) = sched_getaffinity(None) else {
        return;
    };
    let mut elsewhere = allowed;
    elsewhere.unset(sched_getcpu());
    if elsewhere.count() == 0 {
        return;
    }
    if sched_setaffinity(None, &elsewhere).is_ok() {
        let _ = sched_setaffinity(None, &allowed);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn step_aside() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spawned_thread_runs_and_the_caller_may_run_anywhere_after() {
        #[cfg(target_os = "linux")]
        let before = rustix::thread::sched_getaffinity(None).map(|s| s.count());
        let handle = spawn("test", || 6 * 7).expect("a thread");
        assert_eq!(handle.join().ok(), Some(42));
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::thread::sched_getaffinity(None)
                .map(|s| s.count())
                .ok(),
            before.ok(),
            "the caller's cores are restored"
        );
    }
}
