//! Splitting an image reference into repository and tag (or digest) for a pull: the
//! Engine pulls every tag of a repository when none is given.

/// `(repository, tag-or-digest)`; the tag defaults to `latest`.
pub fn split_reference(image: &str) -> (String, String) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let last_segment_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_segment_start..].rfind(':') {
        Some(i) => {
            let at = last_segment_start + i;
            (image[..at].to_string(), image[at + 1..].to_string())
        }
        None => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        assert_eq!(split_reference("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(split_reference("postgres:15"), ("postgres".into(), "15".into()));
        assert_eq!(split_reference("localhost:5000/app"), ("localhost:5000/app".into(), "latest".into()));
        assert_eq!(split_reference("localhost:5000/app:1.2"), ("localhost:5000/app".into(), "1.2".into()));
        assert_eq!(split_reference("app@sha256:abc"), ("app".into(), "sha256:abc".into()));
    }
}
