//! `slipway cache ls` / `rm`: the images `cached: true` services keep between runs.

use std::process::ExitCode;

use slipway_engine::runtime::Runtime;
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

/// `slipway-cache/<project>-` for one project, `slipway-cache/` for all.
fn prefix(project: Option<&str>) -> String {
    match project {
        Some(p) => format!("{CACHE_REPOSITORY}/{p}-"),
        None => format!("{CACHE_REPOSITORY}/"),
    }
}

async fn list(args: &CacheArgs) -> Result<ExitCode, ExitCode> {
    let project = if args.project_only {
        Some(load_project(&args.project, false).ok_or(ExitCode::from(EXIT_FAILURE))?.name)
    } else {
        None
    };
    let runtime = connect().await?;
    let images = runtime.list_images(&prefix(project.as_deref())).await.map_err(|e| {
        error(e.message);
        ExitCode::from(EXIT_FAILURE)
    })?;
    if images.is_empty() {
        outln!("no cache images");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{:<60} {:>10}  CREATED", "IMAGE", "SIZE");
    for image in images {
        let created = chrono::DateTime::from_timestamp(image.created, 0)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string());
        for tag in image.tags.iter().filter(|t| t.starts_with(CACHE_REPOSITORY)) {
            outln!("{tag:<60} {:>8.1}MB  {created}", image.size as f64 / 1e6);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(args: &CacheRmArgs) -> Result<ExitCode, ExitCode> {
    let project = load_project(&args.project, false).ok_or(ExitCode::from(EXIT_FAILURE))?;
    let runtime = connect().await?;
    let service_prefix = match &args.service {
        Some(service) => slipway_engine::cache_reference(None, &project.name, service, "x")
            .rsplit_once(':')
            .map(|(repo, _)| repo.to_string())
            .unwrap_or_default(),
        None => prefix(Some(&project.name)),
    };
    let images = runtime.list_images(&service_prefix).await.map_err(|e| {
        error(e.message);
        ExitCode::from(EXIT_FAILURE)
    })?;
    let branch_tag = args
        .branch
        .as_deref()
        .map(|b| slipway_engine::cache_reference(None, "p", "s", b).rsplit(':').next().unwrap_or_default().to_string());
    let mut removed = 0;
    let mut failed = false;
    for tag in images.iter().flat_map(|i| i.tags.iter()).filter(|t| t.starts_with(&service_prefix)) {
        if branch_tag.as_ref().is_some_and(|b| !tag.ends_with(&format!(":{b}"))) {
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
