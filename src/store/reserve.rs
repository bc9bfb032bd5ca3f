//! On SQLite, disk space kept in reserve beside the database, for the day the disk fills.
//!
//! A full disk stops more than new writes: the write-ahead log can no longer be copied back
//! into the database (the copy grows the database file first), so the log is never reset, and
//! freeing a little space only lets the copy eat it. The node keeps a file of
//! `sqlite_reserve_mib` next to the database; when a write or a checkpoint fails for want of
//! space, it deletes that file, completes the checkpoint and truncates the log, so it takes writes
//! again at once, and as soon as the operator frees a modest amount after that. It makes the
//! reserve again once the disk has twice its size free.

use std::path::{Path, PathBuf};

pub struct Reserve {
    path: PathBuf,
    bytes: u64,
}

impl Reserve {
    /// The reserve for the database at `database`, of `bytes` (none is kept when zero, but the
    /// free space is still watched).
    pub fn beside(database: &Path, bytes: u64) -> Self {
        let mut name = database.as_os_str().to_owned();
        name.push(".reserve");
        Reserve { path: PathBuf::from(name), bytes }
    }

    /// Whether the disk has room for writes: at least 1 MiB free.
    pub fn has_room(&self) -> bool {
        free_bytes(&self.path).is_none_or(|free| free >= 1 << 20)
    }

    pub fn is_held(&self) -> bool {
        self.bytes == 0 || std::fs::metadata(&self.path).is_ok_and(|meta| meta.len() >= self.bytes)
    }

    /// Makes the reserve when it is not held and the disk has twice its size free.
    pub fn refill(&self) {
        if self.is_held() || free_bytes(&self.path).is_none_or(|free| free < self.bytes.saturating_mul(2)) {
            return;
        }
        match allocate(&self.path, self.bytes) {
            Ok(()) => tracing::info!(path = %self.path.display(), mib = self.bytes >> 20, "disk space reserved"),
            Err(error) => {
                let _ = std::fs::remove_file(&self.path);
                tracing::warn!(%error, path = %self.path.display(), "cannot reserve disk space");
            }
        }
    }

    /// Gives the reserve up; true when there was one.
    pub fn release(&self) -> bool {
        let released = self.bytes > 0 && std::fs::remove_file(&self.path).is_ok();
        if released {
            tracing::error!(
                path = %self.path.display(),
                mib = self.bytes >> 20,
                "the disk is full: released the reserve so the database can go on; free disk space"
            );
        }
        released
    }
}

/// Bytes an unprivileged process may still write on the filesystem holding `path`.
#[allow(clippy::useless_conversion)] // statvfs's field types differ between platforms
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `name` is a valid C string and `stats` a buffer of the size statvfs writes.
    let stats = unsafe {
        if libc::statvfs(name.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some(u64::from(stats.f_bavail).saturating_mul(u64::from(stats.f_frsize)))
}

/// A file of `bytes` whose blocks are allocated now (not a sparse file, which reserves nothing).
fn allocate(path: &Path, bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    let length = libc::off_t::try_from(bytes).map_err(std::io::Error::other)?;
    // SAFETY: a valid open file descriptor; posix_fallocate only allocates its blocks.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, length) } {
        0 => file.sync_all(),
        code => Err(std::io::Error::from_raw_os_error(code)),
    }
}
