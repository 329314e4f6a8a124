//! The build context as a tar archive, honouring `.dockerignore`.

use std::path::Path;

use walkdir::WalkDir;

use crate::dockerignore::DockerIgnore;

/// slipway's state folder in a project (history, logs): never part of a build context.
pub const STATE_DIR: &str = ".slipway";

/// Name the Dockerfile gets in the archive when it lives outside the context.
pub const OUTSIDE_DOCKERFILE: &str = ".slipway.Dockerfile";

/// Tar the context. Returns the archive and the Dockerfile's path inside it.
pub fn tar_context(context: &Path, dockerfile: &str) -> Result<(Vec<u8>, String), String> {
    if !context.is_dir() {
        return Err(format!("the build context `{}` is not a directory", context.display()));
    }
    let dockerfile_path = context.join(dockerfile);
    if !dockerfile_path.is_file() {
        return Err(format!("no Dockerfile at `{}`", dockerfile_path.display()));
    }
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text),
        Err(_) => DockerIgnore::empty(),
    };
    let dockerfile_inside = dockerfile_path
        .canonicalize()
        .ok()
        .zip(context.canonicalize().ok())
        .and_then(|(f, c)| f.strip_prefix(&c).ok().map(|p| p.to_string_lossy().replace('\\', "/")));

    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    let mut walker = WalkDir::new(context).min_depth(1).follow_links(false).sort_by_file_name().into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(|e| format!("cannot read the build context: {e}"))?;
        let relative =
            entry.path().strip_prefix(context).expect("walked under context").to_string_lossy().replace('\\', "/");
        let always = relative == ".dockerignore" || Some(&relative) == dockerfile_inside.as_ref();
        // slipway's own history lives in the project; it changes every run and would
        // defeat the layer cache of every `COPY . .`.
        if relative == STATE_DIR && entry.file_type().is_dir() {
            walker.skip_current_dir();
            continue;
        }
        if entry.file_type().is_dir() && ignore.can_skip_dir(&relative) {
            walker.skip_current_dir();
            continue;
        }
        if !always && ignore.excludes(&relative) {
            continue;
        }
        append_entry(&mut archive, entry.path(), &relative)
            .map_err(|e| format!("cannot add `{relative}` to the build context: {e}"))?;
    }
    let name_in_archive = match dockerfile_inside {
        Some(inside) => inside,
        None => {
            let text = std::fs::read(&dockerfile_path)
                .map_err(|e| format!("cannot read `{}`: {e}", dockerfile_path.display()))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            archive.append_data(&mut header, OUTSIDE_DOCKERFILE, text.as_slice()).map_err(|e| e.to_string())?;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    let bytes = archive.into_inner().map_err(|e| format!("cannot write the build context: {e}"))?;
    Ok((bytes, name_in_archive))
}

/// Add one file, folder or link. A file is read up to the size it had when we looked,
/// and its header written for what was read: a file that grows meanwhile (a log in the
/// project) can neither corrupt the archive nor keep us reading.
fn append_entry(archive: &mut tar::Builder<Vec<u8>>, path: &Path, name: &str) -> std::io::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    if !metadata.is_file() {
        return archive.append_path_with_name(path, name);
    }
    let mut content = Vec::with_capacity(metadata.len() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, metadata.len()), &mut content)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata(&metadata);
    header.set_size(content.len() as u64);
    archive.append_data(&mut header, name, content.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bytes: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(bytes);
        archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn honours_dockerignore_and_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("src/__pycache__")).unwrap();
        std::fs::write(p.join("Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::write(p.join(".dockerignore"), "**/__pycache__\nDockerfile\n").unwrap();
        std::fs::write(p.join("src/app.py"), "").unwrap();
        std::fs::write(p.join("src/__pycache__/app.pyc"), "").unwrap();
        std::fs::create_dir_all(p.join(".slipway/logs")).unwrap();
        std::fs::write(p.join(".slipway/history.db"), "x").unwrap();
        let (bytes, dockerfile) = tar_context(p, "Dockerfile").unwrap();
        let names = names(&bytes);
        assert_eq!(dockerfile, "Dockerfile");
        assert!(names.contains(&"Dockerfile".to_string()));
        assert!(names.contains(&"src/app.py".to_string()));
        assert!(!names.iter().any(|n| n.contains("__pycache__")), "{names:?}");
        assert!(!names.iter().any(|n| n.contains(".slipway")), "{names:?}");
    }

    #[test]
    fn dockerfile_outside_the_context_is_added() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ctx")).unwrap();
        std::fs::write(dir.path().join("Dockerfile.ci"), "FROM busybox\n").unwrap();
        let (bytes, dockerfile) = tar_context(&dir.path().join("ctx"), "../Dockerfile.ci").unwrap();
        assert_eq!(dockerfile, OUTSIDE_DOCKERFILE);
        assert_eq!(names(&bytes), [OUTSIDE_DOCKERFILE]);
    }

    #[test]
    fn a_file_growing_during_the_tar_does_not_corrupt_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        let log = dir.path().join("events.jsonl");
        std::fs::write(&log, "").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // A steady writer, bounded so a broken tar cannot fill the disk chasing it.
        let writer = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
                for _ in 0..4096 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    f.write_all(&[b'x'; 4096]).unwrap();
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            })
        };
        for _ in 0..50 {
            let (bytes, _) = tar_context(dir.path(), "Dockerfile").unwrap();
            let mut archive = tar::Archive::new(bytes.as_slice());
            for entry in archive.entries().unwrap() {
                let mut entry = entry.expect("valid header");
                std::io::copy(&mut entry, &mut std::io::sink()).expect("valid content");
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
    }

    #[test]
    fn missing_dockerfile_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(tar_context(dir.path(), "Dockerfile").unwrap_err().contains("no Dockerfile"));
    }
}
