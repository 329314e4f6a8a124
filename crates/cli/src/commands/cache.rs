//! `slipway cache ls` / `rm`: the images `cached: true` services keep between runs.

use std::process::ExitCode;

use slipway_engine::labels::PROJECT;
use slipway_engine::runtime::{ImageSummary, Runtime};
use slipway_engine::CACHE_REPOSITORY;

use super::{connect, error, load_project, EXIT_FAILURE};
use crate::cli::{CacheArgs, CacheCommand, CacheRmArgs};

pub async fn cache_command(command: CacheCommand) -> ExitCode {
    match command {
        CacheCommand::Ls(args) => list(&args).await,
        CacheCommand::Rm(args) => remove(&args).await,
    }
    .unwrap_or_else(|code| code)
}

/// The cache images on the engine (local ones, and copies pulled from or pushed to a
/// cache registry, `host/slipway-cache/…`), with the tags that name them as cache; only
/// `project`'s when given (by the label its builds carry).
async fn cache_images(
    runtime: &dyn Runtime,
    project: Option<&str>,
) -> Result<Vec<(ImageSummary, Vec<String>)>, ExitCode> {
    let mut found: Vec<(ImageSummary, Vec<String>)> = Vec::new();
    // `*` stops at `/`: names of this version (`<project>/<service>`) and of earlier ones
    // (`<project>-<service>`), local and on a registry.
    for pattern in [
        format!("{CACHE_REPOSITORY}/*/"),
        format!("{CACHE_REPOSITORY}/"),
        format!("*/{CACHE_REPOSITORY}/*/"),
        format!("*/{CACHE_REPOSITORY}/"),
    ] {
        let images = runtime.list_images(&pattern).await.map_err(|e| {
            error(e.message);
            ExitCode::from(EXIT_FAILURE)
        })?;
        for image in images {
            if project.is_some_and(|p| image.labels.get(PROJECT).map(String::as_str) != Some(p)) {
                continue;
            }
            if found.iter().any(|(i, _)| i.id == image.id) {
                continue;
            }
            let tags: Vec<String> = image.tags.iter().filter(|t| is_cache_tag(t)).cloned().collect();
            if !tags.is_empty() {
                found.push((image, tags));
            }
        }
    }
    Ok(found)
}

/// `slipway-cache/<project>/<service>:<branch>`, maybe behind a registry host.
fn is_cache_tag(tag: &str) -> bool {
    tag.starts_with(&format!("{CACHE_REPOSITORY}/")) || tag.contains(&format!("/{CACHE_REPOSITORY}/"))
}

async fn list(args: &CacheArgs) -> Result<ExitCode, ExitCode> {
    let project = if args.project_only {
        Some(load_project(&args.project, false).ok_or(ExitCode::from(EXIT_FAILURE))?.name)
    } else {
        None
    };
    let runtime = connect().await?;
    let images = cache_images(&runtime, project.as_deref()).await?;
    if images.is_empty() {
        outln!("no cache images");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{:<60} {:>10}  CREATED", "IMAGE", "SIZE");
    for (image, tags) in images {
        let created = chrono::DateTime::from_timestamp(image.created, 0)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string());
        for tag in tags {
            outln!("{tag:<60} {:>8.1}MB  {created}", image.size as f64 / 1e6);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(args: &CacheRmArgs) -> Result<ExitCode, ExitCode> {
    let project = load_project(&args.project, false).ok_or(ExitCode::from(EXIT_FAILURE))?;
    let runtime = connect().await?;
    let images = cache_images(&runtime, Some(&project.name)).await?;
    // The repository of the service's cache, whatever the registry in front of it.
    let service_repo = args.service.as_deref().map(|service| {
        let reference = slipway_engine::cache_reference(None, &project.name, service, "x");
        reference.rsplit_once(':').map(|(repo, _)| repo.to_string()).unwrap_or_default()
    });
    let branch_tag = args
        .branch
        .as_deref()
        .map(|b| slipway_engine::cache_reference(None, "p", "s", b).rsplit(':').next().unwrap_or_default().to_string());
    let mut removed = 0;
    let mut failed = false;
    for tag in images.iter().flat_map(|(_, tags)| tags) {
        let Some((repo, tag_part)) = tag.rsplit_once(':') else { continue };
        if service_repo.as_ref().is_some_and(|s| repo != s && !repo.ends_with(&format!("/{s}"))) {
            continue;
        }
        if branch_tag.as_ref().is_some_and(|b| tag_part != b) {
            continue;
        }
        match runtime.remove_image(tag).await {
            Ok(()) => {
                outln!("removed {tag}");
                removed += 1;
            }
            Err(e) => {
                error(format!("{tag}: {}", e.message));
                failed = true;
            }
        }
    }
    if removed == 0 && !failed {
        outln!("no cache images to remove");
    }
    Ok(if failed { ExitCode::from(EXIT_FAILURE) } else { ExitCode::SUCCESS })
}
