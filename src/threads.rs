//! Threads that run beside the main thread: the dirty check's stat pass and its parts.
//!
//! Linux queues a new thread on its parent's core, and an idle core takes it over only at
//! its next load balance. On the 2-core machines this project is measured on, a thread
//! spawned while its parent went on working started 1.7 to 3.5 ms later in 5 of 6 tries (a C
//! test: spawn, then spin until the thread runs); in the dirty check, the stat pass started
//! up to 3.2 ms late and its second part up to 4 ms late, while a core sat idle.
//!
//! So a thread is spawned while its parent is moved, for an instant, to the other cores it
//! may run on ([`Aside`]): the new thread takes its parent's cores, so it is born away from
//! the parent's own, and it lets itself run anywhere again as soon as it starts; the parent
//! then goes back to its core and is let run anywhere too. It costs three
//! `sched_setaffinity` calls (about 35 µs for each move). Elsewhere than on Linux, or with
//! one core allowed, nothing is moved.

use std::thread::JoinHandle;

/// Spawns `f` on a thread named `name`, away from the caller's core ([`Aside`]). `None` when
/// no thread can be started: the caller does the work itself.
pub(crate) fn spawn<T, F>(name: &str, f: F) -> Option<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let aside = Aside::enter();
    let cores = aside.cores();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            cores.restore();
            f()
        });
    drop(aside);
    handle.ok()
}

/// The calling thread, moved off its own core to the others it may run on while it spawns
/// threads (each should call [`Cores::restore`] from [`Aside::cores`] first thing); dropping
/// it moves the caller back to its core, then lets it run on all of them again.
pub(crate) struct Aside(Option<imp::Moved>);

impl Aside {
    pub(crate) fn enter() -> Aside {
        Aside(imp::Moved::enter())
    }

    /// The cores a thread spawned now should let itself run on again.
    pub(crate) fn cores(&self) -> Cores {
        Cores(self.0.as_ref().map(imp::Moved::allowed))
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        if let Some(moved) = self.0.take() {
            moved.back();
        }
    }
}

/// The cores a thread may run on, to go back to.
#[derive(Clone, Copy)]
pub(crate) struct Cores(Option<imp::Set>);

impl Cores {
    /// Lets the calling thread run on these cores again.
    pub(crate) fn restore(&self) {
        if let Some(set) = &self.0 {
            imp::allow(set);
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

    /// The core the caller runs on, by glibc (rustix's `sched_getcpu` parses the vDSO
    /// itself, and crashed the process under valgrind, which the benchmarks run).
    #[allow(unsafe_code)]
    fn current_cpu() -> Option<usize> {
        // SAFETY: sched_getcpu takes no arguments and only returns a number (-1 on error).
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }

    pub(super) type Set = CpuSet;

    pub(super) struct Moved {
        home: CpuSet,
        allowed: CpuSet,
    }

    impl Moved {
        pub(super) fn enter() -> Option<Moved> {
            let allowed = sched_getaffinity(None).ok()?;
            let cpu = current_cpu()?;
            let mut others = allowed;
            others.unset(cpu);
            if others.count() == 0 {
                return None;
            }
            let mut home = CpuSet::new();
            home.set(cpu);
            sched_setaffinity(None, &others).ok()?;
            Some(Moved { home, allowed })
        }

        pub(super) fn allowed(&self) -> CpuSet {
            self.allowed
        }

        pub(super) fn back(self) {
            let _ = sched_setaffinity(None, &self.home);
            let _ = sched_setaffinity(None, &self.allowed);
        }
    }

    pub(super) fn allow(set: &CpuSet) {
        let _ = sched_setaffinity(None, set);
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    #[derive(Clone, Copy)]
    pub(super) struct Set;

    pub(super) struct Moved;

    impl Moved {
        pub(super) fn enter() -> Option<Moved> {
            None
        }
        pub(super) fn allowed(&self) -> Set {
            Set
        }
        pub(super) fn back(self) {}
    }

    pub(super) fn allow(_: &Set) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    fn cores() -> Option<u32> {
        rustix::thread::sched_getaffinity(None)
            .ok()
            .map(|s| s.count())
    }

    #[cfg(not(target_os = "linux"))]
    fn cores() -> Option<u32> {
        None
    }

    /// The thread runs and may run on every core the caller may; the caller, afterwards,
    /// on every one it could before.
    #[test]
    fn a_thread_spawned_aside_runs_and_no_one_stays_confined() {
        let before = cores();
        let handle = spawn("test", cores).expect("a thread");
        assert_eq!(handle.join().ok(), Some(before), "the thread's cores");
        assert_eq!(cores(), before, "the caller's cores");
    }
}
