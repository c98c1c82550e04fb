//! The operator binary (or any other program) run as a real child process, with its
//! output captured to a log file. The process cannot outlive the test (see
//! [`crate::process`]) and is killed when the handle is dropped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::process::{self, ManagedChild};

/// How long [`OperatorProcess::terminate`] waits for the process to exit.
pub const DEFAULT_TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);

/// A program running as a child process of the test.
#[derive(Debug)]
pub struct OperatorProcess {
    // Declared first so the process is gone before its log folder is removed.
    child: ManagedChild,
    dir: Option<TempDir>,
    log: PathBuf,
}

impl OperatorProcess {
    /// Starts `binary` with `args` and, on top of the test's environment, `envs`. Standard
    /// output and error both go to [`log_path`](Self::log_path), a file in a temporary
    /// folder that is removed on drop unless the test is panicking.
    pub fn spawn<A, S, E, K, V>(binary: impl AsRef<Path>, args: A, envs: E) -> Result<Self>
    where
        A: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
        E: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let binary = binary.as_ref();
        let dir = tempfile::Builder::new()
            .prefix("commandbridge-process-")
            .tempdir()
            .context("creating a folder for the process log")?;
        let log = dir.path().join(format!("{}.log", display_name(binary)));
        let mut process = Self::spawn_logging_to(binary, args, envs, log)?;
        process.dir = Some(dir);
        Ok(process)
    }

    /// Like [`spawn`](Self::spawn), but appends the output to `log`, which is kept.
    pub fn spawn_logging_to<A, S, E, K, V>(
        binary: impl AsRef<Path>,
        args: A,
        envs: E,
        log: impl Into<PathBuf>,
    ) -> Result<Self>
    where
        A: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
        E: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let binary = binary.as_ref();
        let log = log.into();
        let file = process::log_file(&log)?;
        let stderr = file.try_clone().context("duplicating the log handle")?;

        let mut command = Command::new(binary);
        command
            .args(args)
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr);
        let child = ManagedChild::spawn(display_name(binary), command)
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            child,
            dir: None,
            log,
        })
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The file receiving the process's standard output and error.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_running()
    }

    /// The exit status, if the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_exit_status()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        self.child.kill()
    }

    /// Sends SIGTERM and waits up to [`DEFAULT_TERMINATE_TIMEOUT`] for the process to exit.
    pub async fn terminate(&mut self) -> Result<ExitStatus> {
        self.terminate_within(DEFAULT_TERMINATE_TIMEOUT).await
    }

    /// Sends SIGTERM and waits up to `timeout` for the process to exit; an error if it has
    /// not (it keeps running until dropped or killed).
    pub async fn terminate_within(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.child.send_terminate()?;
        self.wait_for_exit(timeout).await
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        match self.child.wait_async(timeout).await {
            Some(status) => Ok(status),
            None => bail!(
                "{} (pid {}) did not exit within {timeout:?}; log: {}",
                self.child.name(),
                self.pid(),
                self.log.display()
            ),
        }
    }

    /// Waits up to `timeout` until the log contains `needle`.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.logs().contains(needle) {
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                bail!(
                    "{} exited ({status}) before logging {needle:?}; log {}:\n{}",
                    self.child.name(),
                    self.log.display(),
                    process::tail(&self.log, 40)
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not log {needle:?} within {timeout:?}; log {}:\n{}",
                    self.child.name(),
                    self.log.display(),
                    process::tail(&self.log, 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn display_name(binary: &Path) -> String {
    binary
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| binary.display().to_string())
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!(
                "commandbridge-testenv: output of {} kept in {}",
                self.child.name(),
                kept.join(self.log.file_name().unwrap_or_default())
                    .display()
            );
        }
    }
}
