//! Faults on files: copying a backup set into scratch space, damaging,
//! cutting and encrypting copies there. Plain blocking file work, called from
//! `spawn_blocking` so a multi-gigabyte copy never stalls the async runtime
//! (or Ctrl-C).

use crate::catalog::list;
use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Copies every regular file of `src` into a new `dst` (never hard links,
/// which would let a simulation write through to the originals).
pub fn copy_dir(src: &Path, dst: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dst).map_err(|e| Error::io("create scratch folder", dst, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| {
        Error::Environment(format!(
            "cannot read the backup location {}: {e}. Check the path (--backups DIR)",
            src.display()
        ))
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            let to = dst.join(entry.file_name());
            std::fs::copy(&path, &to).map_err(|e| Error::io("copy to scratch", &path, e))?;
        }
    }
    Ok(dst.to_path_buf())
}

/// The newest backup of a folder: the one a fault acts on.
pub fn newest(dir: &Path) -> Result<PathBuf> {
    list::scan(dir, None)?
        .into_iter()
        .next()
        .map(|c| c.path)
        .ok_or_else(|| {
            Error::Unrecoverable(format!(
                "no backup found in {}: nothing to simulate a failure on",
                dir.display()
            ))
        })
}

pub fn size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io("read", path, e))?
        .len())
}

/// Flips one bit in `flips` distinct bytes past the first 4 KiB (so the damage
/// is in the payload, the hard case) at offsets drawn from `seed`.
pub fn flip_bytes(path: &Path, flips: u32, seed: u64) -> Result<Vec<u64>> {
    let mut data = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let offsets = flip_offsets(data.len() as u64, flips, seed);
    for o in &offsets {
        data[*o as usize] ^= 0x20;
    }
    std::fs::write(path, &data).map_err(|e| Error::io("write", path, e))?;
    Ok(offsets)
}

/// Distinct offsets, sorted, past the first 4 KiB (or the first half of a
/// small file), the same for the same seed.
pub fn flip_offsets(len: u64, flips: u32, seed: u64) -> Vec<u64> {
    use rand::{Rng, SeedableRng};
    let start = 4096.min(len / 2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut offsets: Vec<u64> = (0..flips)
        .map(|_| rng.random_range(start..len.max(start + 1)))
        .filter(|o| *o < len)
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    offsets
}

/// Cuts a file to `fraction` of its size; returns (old size, new size).
pub fn truncate(path: &Path, fraction: f64) -> Result<(u64, u64)> {
    let len = size(path)?;
    let keep = (len as f64 * fraction) as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(keep))
        .map_err(|e| Error::io("truncate", path, e))?;
    Ok((len, keep))
}

/// What ransomware does to a folder: every file overwritten with ciphertext
/// (a keystream nobody holds), renamed `*.locked`, and a note left behind.
pub fn encrypt_like_ransomware(dir: &Path) -> Result<(usize, u64)> {
    use rand::RngCore;
    let mut count = 0;
    let mut bytes = 0u64;
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    for path in entries {
        let mut data = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let mut pad = vec![0u8; data.len()];
        rand::rng().fill_bytes(&mut pad);
        for (d, k) in data.iter_mut().zip(pad) {
            *d ^= k;
        }
        let locked = PathBuf::from(format!("{}.locked", path.display()));
        std::fs::write(&locked, &data).map_err(|e| Error::io("write", &locked, e))?;
        std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
        count += 1;
        bytes += data.len() as u64;
    }
    let note = dir.join("README-RESTORE-YOUR-FILES.txt");
    let mut f = std::fs::File::create(&note).map_err(|e| Error::io("write", &note, e))?;
    let _ = f.write_all(
        b"All your files are encrypted. (A restore-drill simulation: this note is part of the rehearsal.)\n",
    );
    Ok((count, bytes))
}

/// Runs blocking file work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Failed(format!("internal error in the simulation's file work: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_are_distinct_in_the_payload_and_repeatable() {
        let a = flip_offsets(100_000, 16, 7);
        assert_eq!(a, flip_offsets(100_000, 16, 7));
        assert_ne!(a, flip_offsets(100_000, 16, 8));
        assert!(a.iter().all(|o| (4096..100_000).contains(o)), "{a:?}");
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let small = flip_offsets(10, 3, 1);
        assert!(small.iter().all(|o| (5..10).contains(o)), "{small:?}");
    }

    #[test]
    fn ransomware_and_cuts_act_on_the_folder_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("clinic-20261101T020000Z.dump.zst.age");
        std::fs::write(&f, vec![7u8; 1000]).expect("write");
        assert_eq!(truncate(&f, 0.6).expect("cut"), (1000, 600));
        let (count, bytes) = encrypt_like_ransomware(dir.path()).expect("encrypt");
        assert_eq!((count, bytes), (1, 600));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "README-RESTORE-YOUR-FILES.txt",
                "clinic-20261101T020000Z.dump.zst.age.locked"
            ]
        );
    }
}
