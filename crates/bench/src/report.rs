//! The results table and BENCHMARKS.md.

pub struct Row {
    pub name: String,
    pub slipway: String,
    pub baseline: String,
    pub result: String,
    pub target: String,
    pub met: bool,
}

pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("| measurement | slipway | baseline | result | target | met |\n|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.slipway,
            r.baseline,
            r.result,
            r.target,
            if r.met { "yes" } else { "no" }
        ));
    }
    out
}

/// The engine calls of a one-step run and their median durations.
pub fn breakdown(calls: &[(String, f64)]) -> String {
    let mut out = String::from("| engine call in a one-step run | median |\n|---|---|\n");
    for (op, ms) in calls {
        out.push_str(&format!("| {op} | {ms:.0} ms |\n"));
    }
    out
}

pub fn document(engine: &str, iterations: usize, table: &str, breakdown: &str) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!(
        "# slipway benchmarks\n\nMeasured by `cargo run --release -p slipway-bench` on {date}: Docker Engine {engine}, {cores} cores, \
         median of {iterations} runs, slipway and the baseline interleaved in one run on the same engine.\n\n{table}\n\
         Baselines: `docker run --rm busybox true` (per-step overhead and makespan); for readiness, the moment the \
         dependency's health check condition became true, read from the kernel's uptime clock in both containers \
         (10 ms resolution); for `cached: true`, the same build with no cache (a Dockerfile that installs curl, jq \
         and make from Debian), and for the cache registry, that cold build against one that first pulls the \
         cache image from a `registry:2` on the engine. Splitting (`examples/split-suite`, 200 sleeping \
         tests in 40 files, 120 s serially, 8 shards): makespan from the image being ready to the last shard's \
         end; efficiency = max(total / 8, longest file) / makespan, with the total and the longest file from the \
         run's own JUnit reports; \"busiest shard's tests\" is the longest a shard's tests took by those reports, \
         i.e. what the packing alone achieved. The remaining gap is start-up: the engine creates the 8 networks \
         and starts the 8 containers largely one after another, and 8 Python interpreters start on 2 cores; \
         shards therefore start in index order and a timings split gives the later ones less work by the lag \
         learned from earlier runs. The rows with `slipway warm` run the same split while the pool keeps 8 \
         started containers of the service: it saves the engine's part of the start-up, but on 2 cores the 8 \
         Python interpreters starting at once are most of it, and the start lags learned from the runs without \
         a pool still hold the later shards' share down. The start-up row measures the same start-up without slipway: 8 `docker run \
         --rm` of the image started at once, each only collecting one test file. The PyPI row runs the networkx test suite from its sdist unsplit and \
         over 4 shards by timings (after a learning run); on 2 cores 4 shards can be at most about 2× faster. \
         The 25-parallel-steps row is also compared with 25 `docker run --rm` started at once, which shows how \
         much of the makespan is the engine's own serial container start. Server rows (`slipway serve` on a \
         temporary data dir): webhook to first step output is measured from a signed GitHub push webhook (`POST /hooks/github`) to \
         the first `step_output` event of a one-step busybox build of a local bare repository, with the \
         clone's own time reported beside it; page times are server time for `/` and `/builds` with 10 000 \
         builds (and their test results) in the store; the live-log rows attach 100 SSE viewers to one running \
         build and report the server's resident memory and how far the slowest viewer lagged behind the \
         events file.\n\n\
         ## Where a step's time goes\n\nFrom `SLIPWAY_LOG=debug` of a one-step busybox run:\n\n{breakdown}\n\
         `docker run --rm` pays only for creating, starting and waiting for its container. Every slipway step \
         also gets its own network, and on this engine creating and removing a bridge network costs about as \
         much as starting a container; a run reuses one step's empty network for the next, so a pipeline pays \
         for one network per step running at the same time, not per step. Parallel steps are bounded by the \
         engine, which starts containers largely one after another. The rows \"with `slipway warm`\" run the same \
         steps while `slipway warm` keeps started environments (each run waits until the pool has refilled, as \
         between the steps of a pipeline): a step leases one over the pool's socket, and the pool writes its \
         command to the shell waiting in the container and streams the output back (a split shard's JUnit \
         reports come back the same way, read by `tar` in the container); afterwards it removes the \
         container and starts a new one, once no other step runs in the pool. The step pays for no network, \
         no container and no `docker exec` (whose runc start costs the engine 20–30 ms of CPU per command): \
         it makes no engine call at all. What remains is \
         slipway's own start-up and the run's bookkeeping.\n",
        date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    )
}
