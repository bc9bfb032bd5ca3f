//! Work that may take only the CPU the answers leave: threads at the lowest priority.

use std::sync::mpsc;

use tokio::sync::oneshot;

/// Puts the calling thread under `SCHED_IDLE`, else at nice 19.
///
/// A nice-19 thread that the scheduler has picked may still finish its slice before a thread
/// woken by a border question runs; a `SCHED_IDLE` thread gives the core up at once. Any user may
/// lower its own thread's policy.
pub fn lowest_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: gettid, sched_setscheduler and setpriority on the calling thread only.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        if libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 19);
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A thread at the lowest priority that runs what it is given, one job at a time; dropped, it
/// ends once its queue is done.
pub struct IdleThread {
    jobs: mpsc::Sender<Job>,
}

impl IdleThread {
    pub fn start(name: &str) -> std::io::Result<IdleThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name(name.into()).spawn(move || {
            lowest_priority();
            for job in queue {
                job();
            }
        })?;
        Ok(IdleThread { jobs })
    }

    /// What `work` returns, run on the thread.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the idle thread ended"))?;
        answered.await.map_err(|_| anyhow::anyhow!("the idle thread ended"))
    }
}
