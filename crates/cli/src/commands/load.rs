//! `slipway load SERVICE` (Jet's `load`): build or pull a service's image — with its
//! credentials and, for `cached: true`, its cache — and leave it tagged on the engine.

use std::process::ExitCode;
use std::sync::Arc;

use slipway_engine::{load_image, CacheSettings, EngineOptions, EventSink};
use slipway_plan::build_run_plan;

use super::{connect, fail, prepare, use_color, EXIT_FAILURE};
use crate::cli::LoadArgs;
use crate::report::{spawn_reporters, TerminalOptions, TerminalReporter};

pub async fn load_command(args: LoadArgs) -> ExitCode {
    match load(args).await {
        Ok(code) | Err(code) => code,
    }
}

async fn load(args: LoadArgs) -> Result<ExitCode, ExitCode> {
    let mut prepared = prepare(&args.exec, false, None)?;
    if !prepared.project.services.contains_key(&args.service) {
        return Err(fail(format!("no service `{}` in {}", args.service, prepared.project.files.services.display())));
    }
    let plan = prepared.plan_with_secrets(|project, ctx| build_run_plan(project, ctx, &args.service, None))?;
    let image =
        plan.builds.get(&args.service).map_or_else(|| plan.services[&args.service].image.clone(), |b| b.image.clone());
    let runtime = connect().await?;
    let (sink, events) = EventSink::channel();
    let reporter =
        TerminalReporter::new(TerminalOptions { live: false, color: use_color(), debug: args.exec.debug, raw: true });
    let reporting = spawn_reporters(events, vec![Box::new(reporter)]);
    let options = EngineOptions {
        registry: prepared.registry,
        cache: CacheSettings { registry: args.cache_registry.clone(), ..prepared.cache },
        secrets: prepared.secrets,
        ..EngineOptions::default()
    };
    let result = load_image(Arc::new(plan), Arc::new(runtime), options, sink.clone(), &args.service).await;
    drop(sink);
    let _ = reporting.await;
    match result {
        Ok(id) => {
            outln!("{image} ({})", slipway_engine::short_image_id(&id));
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            super::error(message);
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}
