//! Child processes that cannot outlive the test process.
//!
//! Every process this crate starts (etcd, kube-apiserver, the AWS emulator, the operator
//! binary) is spawned with `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the kernel kills it when
//! its parent goes away, even if the test process panics, aborts or is killed with
//! SIGKILL and no destructor runs.
//!
//! Linux delivers the parent-death signal when the *thread* that forked the child exits,
//! not when the process does. Test harnesses run each test on a short-lived thread, so
//! spawning from the test's own thread would kill a shared control plane as soon as the
//! first test finished. All spawning therefore goes through one dedicated thread that
//! lives as long as the process: [`spawn`] hands it the [`Command`] over a channel and
//! waits for the resulting [`Child`].
//!
//! [`ManagedChild`] wraps such a child with the stop sequence every owner uses: SIGTERM,
//! a short grace period, then SIGKILL.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

/// How long [`ManagedChild::stop`] waits after SIGTERM before it sends SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(3);

type SpawnReply = mpsc::Sender<io::Result<Child>>;

struct Spawner {
    requests: Mutex<mpsc::Sender<(Command, SpawnReply)>>,
}

static SPAWNER: OnceLock<Spawner> = OnceLock::new();

fn spawner() -> Result<&'static Spawner> {
    if let Some(spawner) = SPAWNER.get() {
        return Ok(spawner);
    }
    let (sender, receiver) = mpsc::channel::<(Command, SpawnReply)>();
    let candidate = Spawner {
        requests: Mutex::new(sender),
    };
    // Only the thread whose candidate wins the race starts a spawner thread; the others
    // drop their channel unused.
    let mut installed = false;
    let spawner = SPAWNER.get_or_init(|| {
        installed = true;
        candidate
    });
    if installed {
        thread::Builder::new()
            .name("testenv-spawner".to_owned())
            .spawn(move || {
                // The sender lives in a static, so this loop runs until the process exits.
                while let Ok((mut command, reply)) = receiver.recv() {
                    let _ = reply.send(command.spawn());
                }
            })
            .context("starting the process-spawner thread")?;
    }
    Ok(spawner)
}

/// Spawns `command` from the long-lived spawner thread, with the parent-death signal set
/// to SIGKILL.
///
/// Stdio redirections set on `command` are kept. The caller owns the returned [`Child`]
/// and may wait for it from any thread.
pub fn spawn(mut command: Command) -> Result<Child> {
    let description = format!("{command:?}");
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid) on values captured by copy.
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then no signal would come.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent process exited during spawn"));
            }
            Ok(())
        });
    }
    let (reply_sender, reply_receiver) = mpsc::channel();
    {
        let requests = spawner()?
            .requests
            .lock()
            .map_err(|_| anyhow!("the process-spawner channel is poisoned"))?;
        requests
            .send((command, reply_sender))
            .map_err(|_| anyhow!("the process-spawner thread has stopped"))?;
    }
    let child = reply_receiver
        .recv()
        .map_err(|_| anyhow!("the process-spawner thread dropped the request"))?
        .with_context(|| format!("spawning {description}"))?;
    Ok(child)
}

/// Opens (creating or appending to) a log file for a child's output.
pub fn log_file(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log file {}", path.display()))
}

/// The last `lines` lines of a text file, or a note saying why it could not be read.
pub fn tail(path: &Path, lines: usize) -> String {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) => return format!("<cannot read {}: {error}>", path.display()),
    };
    let mut last = VecDeque::with_capacity(lines);
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        if last.len() == lines {
            last.pop_front();
        }
        last.push_back(line);
    }
    Vec::from(last).join("\n")
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: libc::c_int) -> Result<()> {
    let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("signal {signal} to {pid}"));
    }
    Ok(())
}

/// Whether a process with this id exists and is not a zombie.
pub fn pid_is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// A child process spawned through [`spawn`], stopped when dropped.
#[derive(Debug)]
pub struct ManagedChild {
    name: String,
    child: Child,
    exit: Option<ExitStatus>,
}

impl ManagedChild {
    /// Spawns `command` through the spawner thread; `name` is used in messages.
    pub fn spawn(name: impl Into<String>, command: Command) -> Result<Self> {
        let name = name.into();
        let child = spawn(command).with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name,
            child,
            exit: None,
        })
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has exited (reaping it), without blocking.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.exit = Some(status);
        }
        self.exit
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.try_exit_status().is_none()
    }

    /// Mutable access to the underlying child, e.g. to take its piped stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_exit_status() {
            return Ok(status);
        }
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for {} after SIGKILL", self.name))?;
        self.exit = Some(status);
        Ok(status)
    }

    /// Sends SIGTERM without waiting.
    pub fn send_terminate(&mut self) -> Result<()> {
        if self.try_exit_status().is_some() {
            return Ok(());
        }
        signal(self.pid(), libc::SIGTERM)
    }

    /// Blocks until the process exits or `timeout` passes.
    pub fn wait_blocking(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits without blocking the async runtime until the process exits or `timeout`
    /// passes.
    pub async fn wait_async(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL, without blocking the async runtime.
    pub async fn stop_async(&mut self, grace: Duration) -> Result<ExitStatus> {
        self.send_terminate()?;
        match self.wait_async(grace).await {
            Some(status) => Ok(status),
            None => self.kill(),
        }
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL. Blocking.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        self.send_terminate()?;
        match self.wait_blocking(grace) {
            Some(status) => Ok(status),
            None => self.kill(),
        }
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        let _ = self.stop(DEFAULT_STOP_GRACE);
    }
}

/// Stops several children at once: SIGTERM to all, one shared grace period, then SIGKILL
/// to those still running.
pub fn stop_all(children: &mut [&mut ManagedChild], grace: Duration) {
    for child in children.iter_mut() {
        let _ = child.send_terminate();
    }
    let deadline = Instant::now() + grace;
    for child in children.iter_mut() {
        let left = deadline.saturating_duration_since(Instant::now());
        if child.wait_blocking(left).is_none() {
            let _ = child.kill();
        }
    }
}
