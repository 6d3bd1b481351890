//! One instance per test, so one failing test does not end the others.
//!
//! A wasm test binary cannot unwind: libtest's first failing assertion aborts the whole binary,
//! and the tests after it never run. The runner therefore asks the binary for its tests
//! (`--list`), runs each in a fresh instance (`--exact <name>`), and reports them the way
//! libtest does — `test name ... ok`, the failures with their output, and one `test result:`
//! line — so cargo, CI log parsers and people read it as usual.

use std::time::Instant;

use super::wasm::{Stdout, TestProgram};

/// libtest options that take a value (not to be mistaken for a filter).
const WITH_VALUE: &[&str] = &[
    "--skip",
    "--test-threads",
    "--color",
    "--format",
    "--logfile",
    "-Z",
    "--report-time",
    "--shuffle-seed",
];
/// Options that make libtest do something else than run tests: passed through as they are.
const NOT_A_RUN: &[&str] = &["--list", "--help", "-h", "--bench"];

/// How one test ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Ignored,
}

/// The user's arguments split into libtest options (with their values) and test-name filters.
fn split_args(args: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut options, mut filters) = (Vec::new(), Vec::new());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg.starts_with('-') {
            options.push(arg.clone());
            if WITH_VALUE.contains(&arg.as_str())
                && let Some(value) = iter.next()
            {
                options.push(value.clone());
            }
        } else {
            filters.push(arg.clone());
        }
    }
    (options, filters)
}

/// The test names in `--list --format terse` output.
fn listed(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// What a run of one test says about it.
fn outcome(code: i32, out: &str) -> Outcome {
    let summary = out
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or("");
    match code {
        0 if summary.contains(" 1 ignored") => Outcome::Ignored,
        0 if summary.contains(" 1 passed") => Outcome::Passed,
        _ => Outcome::Failed,
    }
}

/// The test's own output: what libtest's frame around it is not.
fn own_output(name: &str, out: &str) -> String {
    let frame = format!("test {name} ... ");
    out.lines()
        .map(|l| l.strip_prefix(&frame).unwrap_or(l))
        .filter(|l| {
            !l.is_empty() && !l.starts_with("running 1 test") && !l.starts_with("test result:")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the selected tests of `program` one by one; returns the exit status cargo expects.
pub(super) async fn run_tests(program: &TestProgram, args: &[String]) -> anyhow::Result<i32> {
    if args.iter().any(|a| NOT_A_RUN.contains(&a.as_str())) {
        return Ok(program.run(args, Stdout::Inherit).await?.0);
    }
    let (options, filters) = split_args(args);
    let list = |selection: Vec<String>| async move {
        let mut list_args = selection;
        list_args.extend(["--list", "--format", "terse"].map(String::from));
        let (code, out) = program.run(&list_args, Stdout::Capture).await?;
        if code != 0 {
            print!("{out}");
            anyhow::bail!("the test binary could not list its tests (exit status {code})");
        }
        Ok::<_, anyhow::Error>(listed(&out))
    };
    let listed_all = list(options.clone()).await?;
    let all = listed_all.len();
    let tests = if filters.is_empty() {
        listed_all
    } else {
        let mut selection = options.clone();
        selection.extend(filters);
        list(selection).await?
    };
    // Each test runs alone: options still apply (--ignored, --include-ignored, ...), except
    // those about the selection and the output format, which the runner handles.
    let mut run_options = Vec::new();
    let mut iter = options.iter();
    while let Some(o) = iter.next() {
        match o.as_str() {
            "--skip" | "--format" | "--test-threads" | "--logfile" => {
                iter.next();
            }
            "--exact" | "-q" | "--quiet" => {}
            _ => run_options.push(o.clone()),
        }
    }

    let started = Instant::now();
    println!(
        "\nrunning {} test{}",
        tests.len(),
        if tests.len() == 1 { "" } else { "s" }
    );
    let (mut passed, mut ignored) = (0, 0);
    let mut failures: Vec<(String, String)> = Vec::new();
    for name in &tests {
        let mut test_args = vec![name.clone(), "--exact".to_string()];
        test_args.extend(run_options.iter().cloned());
        let (code, out) = program.run(&test_args, Stdout::Capture).await?;
        let result = outcome(code, &out);
        let word = match result {
            Outcome::Passed => "ok",
            Outcome::Ignored => "ignored",
            Outcome::Failed => "FAILED",
        };
        println!("test {name} ... {word}");
        match result {
            Outcome::Passed => passed += 1,
            Outcome::Ignored => ignored += 1,
            Outcome::Failed => failures.push((name.clone(), own_output(name, &out))),
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, out) in &failures {
            println!("---- {name} stdout ----\n{out}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {} \
         filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        all.saturating_sub(tests.len()),
        started.elapsed().as_secs_f64()
    );
    Ok(if failures.is_empty() { 0 } else { 101 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_are_told_from_options_and_their_values() {
        let (options, filters) =
            split_args(&strings(&["hello", "--skip", "slow", "--ignored", "other"]));
        assert_eq!(options, strings(&["--skip", "slow", "--ignored"]));
        assert_eq!(filters, strings(&["hello", "other"]));
    }

    #[test]
    fn a_tests_outcome_comes_from_its_exit_status_and_summary() {
        let ok = "running 1 test\ntest a ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored";
        assert_eq!(outcome(0, ok), Outcome::Passed);
        let ign = "test result: ok. 0 passed; 0 failed; 1 ignored; 0 measured";
        assert_eq!(outcome(0, ign), Outcome::Ignored);
        assert_eq!(outcome(101, "running 1 test\ntest a ... "), Outcome::Failed);
        assert_eq!(outcome(0, "nothing ran"), Outcome::Failed);
        assert_eq!(
            listed("a::b: test\nc: test\nd: benchmark\n"),
            strings(&["a::b", "c"])
        );
        assert_eq!(
            own_output(
                "a",
                "running 1 test\ntest a ... hello\nworld\n\ntest result: ok."
            ),
            "hello\nworld"
        );
    }
}
