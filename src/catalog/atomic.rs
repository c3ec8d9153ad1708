//! Writing under a temporary name, fsync, then rename: a reader (or the next
//! drill) never sees half a backup under the final name, and a failure leaves
//! nothing behind.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file being written in `dir` under a hidden temporary name; removed on drop
/// unless committed.
pub struct TempFile {
    pub path: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates `dir/.NAME.tmp-RANDOM`, readable by the owner only (it will hold
    /// an encrypted backup, but its name and size are nobody else's business).
    pub fn create(dir: &Path, final_name: &str) -> Result<(TempFile, File)> {
        let suffix: u64 = rand::random();
        let path = dir.join(format!(".{final_name}.tmp-{suffix:016x}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("write to the output directory", dir, e))?;
        Ok((
            TempFile {
                path,
                dir: dir.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// fsyncs the file, renames it to `final_name` without replacing an existing
    /// file, then fsyncs the directory so the rename survives a power cut.
    pub fn commit(mut self, file: File, final_name: &str) -> Result<PathBuf> {
        file.sync_all()
            .map_err(|e| Error::io("flush to disk", &self.path, e))?;
        drop(file);
        let target = self.dir.join(final_name);
        rename_noreplace(&self.path, &target)?;
        self.committed = true;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(target)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EEXIST) => Err(Error::Failed(format!(
            "{} already exists; not replacing it. Wait a second and retry, or choose another --name",
            to.display()
        ))),
        // File systems without RENAME_NOREPLACE (some network shares): check, then rename.
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOSYS) => {
            if to.exists() {
                return Err(Error::Failed(format!(
                    "{} already exists; not replacing it",
                    to.display()
                )));
            }
            std::fs::rename(from, to).map_err(|e| Error::io("rename into place", to, e))
        }
        Err(e) => Err(Error::io("rename into place", to, std::io::Error::from(e))),
    }
}

/// Writes small content that is meant to be replaced (a metrics file, a JUnit
/// file) atomically: readers see the old file or the new one, never half.
/// `mode` applies to the new file (metrics are read by another user).
pub fn replace_file(path: &Path, content: &[u8], mode: u32) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            },
            n.to_string_lossy().into_owned(),
        ),
        _ => {
            return Err(Error::Usage(format!(
                "{} is not a file path",
                path.display()
            )))
        }
    };
    let (mut tmp, mut file) = TempFile::create(dir, &name)?;
    file.write_all(content)
        .map_err(|e| Error::io("write", &tmp.path, e))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set the mode of", &tmp.path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("flush to disk", &tmp.path, e))?;
    drop(file);
    std::fs::rename(&tmp.path, path).map_err(|e| Error::io("rename into place", path, e))?;
    tmp.committed = true;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path.to_path_buf())
}

/// Writes small content (a manifest, a report) atomically.
pub fn write_file(dir: &Path, name: &str, content: &[u8]) -> Result<PathBuf> {
    let (tmp, mut file) = TempFile::create(dir, name)?;
    file.write_all(content)
        .map_err(|e| Error::io("write", &tmp.path, e))?;
    tmp.commit(file, name)
}

/// Who may read a folder restore-drill creates.
#[derive(Debug, Clone, Copy)]
pub enum DirMode {
    /// Backups: their names, sizes and times are nobody else's business.
    OwnerOnly,
    /// Reports: counts, hashes and timings, meant to be read.
    Shared,
}

/// Creates `dir` and its missing parents (`mkdir -p`); an existing folder is
/// left as it is. `flag` names what the user sets to choose another folder.
/// Every failure is the environment's (exit 3): a parent that is a file, or
/// one the user may not write to.
pub fn create_dir(dir: &Path, mode: DirMode, what: &str, flag: &str) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let bits = match mode {
        DirMode::OwnerOnly => 0o700,
        DirMode::Shared => 0o755,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(bits)
        .create(dir)
        .map_err(|e| {
            let next = match e.kind() {
                std::io::ErrorKind::NotADirectory => "A part of the path is a file, not a folder",
                std::io::ErrorKind::PermissionDenied => {
                    "Check who owns the parent folder and its permissions"
                }
                _ => "Check the path",
            };
            Error::Environment(format!(
                "cannot create the {what} {}: {e}. {next}, or choose another {flag}",
                dir.display()
            ))
        })
}
