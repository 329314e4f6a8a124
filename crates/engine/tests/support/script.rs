//! The tiny language a fake container's command is written in, so a plan says what each
//! container does. Instructions are separated by a `;` word:
//!
//! - `print A B …` writes each word as one stdout line
//! - `sleep MS` waits MS milliseconds (tokio time)
//! - `exit N` ends the process with code N
//! - `forever` never ends (until the container is removed)
//! - `fail-start` alone: the command does not exist, so `start_container` fails (behind
//!   the engine's `sh` gate the shell starts, and its `exec` exits 127)
//!
//! Running off the end exits 0. No command at all runs forever, like a database service.
//!
//! Healthchecks use the same idea on the test words (`CMD` then one of):
//! `healthy-after MS`, `unhealthy-after MS`, `never-healthy`.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Print(Vec<String>),
    Sleep(Duration),
    Exit(i64),
    Forever,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    FailsToStart,
    Runs(Vec<Instruction>),
}

impl Script {
    /// Panics on words outside the language: that is a mistake in the test, not the engine.
    pub fn parse(cmd: Option<&[String]>) -> Script {
        let Some(words) = cmd else { return Script::Runs(vec![Instruction::Forever]) };
        if words == ["fail-start"] {
            return Script::FailsToStart;
        }
        // The engine's marker of a built image is created, never started.
        if words == ["slipway-image-marker"] {
            return Script::Runs(vec![Instruction::Forever]);
        }
        let instructions = words
            .split(|w| w == ";")
            .map(|instruction| match instruction {
                [op, lines @ ..] if op == "print" => Instruction::Print(lines.to_vec()),
                [op, ms] if op == "sleep" => Instruction::Sleep(Duration::from_millis(number(ms) as u64)),
                [op, code] if op == "exit" => Instruction::Exit(number(code)),
                [op] if op == "forever" => Instruction::Forever,
                other => panic!("fake container: unknown instruction {other:?} in {words:?}"),
            })
            .collect();
        Script::Runs(instructions)
    }
}

/// How a fake container's health develops once it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthRule {
    NoHealthcheck,
    HealthyAfter(Duration),
    UnhealthyAfter(Duration),
    NeverHealthy,
}

impl HealthRule {
    /// `test` is the container's healthcheck test as the engine passed it.
    pub fn parse(test: Option<&[String]>) -> HealthRule {
        let Some(words) = test else { return HealthRule::NoHealthcheck };
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["NONE"] => HealthRule::NoHealthcheck,
            ["CMD", "healthy-after", ms] => HealthRule::HealthyAfter(Duration::from_millis(number(ms) as u64)),
            ["CMD", "unhealthy-after", ms] => HealthRule::UnhealthyAfter(Duration::from_millis(number(ms) as u64)),
            ["CMD", "never-healthy"] => HealthRule::NeverHealthy,
            other => panic!("fake container: unknown healthcheck test {other:?}"),
        }
    }
}

fn number(word: &str) -> i64 {
    word.parse().unwrap_or_else(|_| panic!("fake container: `{word}` is not a number"))
}
