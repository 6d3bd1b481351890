//! The sandbox's knobs at the engine level: stack depth, table growth, memory and CPU time on
//! components of the botbox world written in WAT (a Rust guest cannot grow a table on stable Rust,
//! nor choose how deep its recursion goes), and the log's rate limit. Each runs through the
//! real path: [`Sandbox::new`], [`Sandbox::compile`], [`Sandbox::instantiate`], `init`.

use std::{io::Write, sync::Arc};

use parking_lot::Mutex;

use super::{CallError, GuestLog, ModuleEnv, Sandbox, TicketCounter};
use crate::{
    config::{Config, SandboxConfig},
    store::{Db, kv::Namespace, kv_txn::KvNamespace},
};

/// A core module for the botbox world whose `init` runs `body`, then returns the error value
/// `done` (so a body that got through is told apart from one that trapped). `$recurse n` calls
/// itself `n` deep; the table `$t` starts with `table_size` elements.
fn core_module(table_size: u32, body: &str) -> String {
    let version = crate::sandbox::CONTRACT_VERSION;
    format!(
        r#"(module
          (memory (export "memory") 1)
          (table $t {table_size} funcref)
          (data (i32.const 128) "done")
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 4096))
          (func $recurse (param $n i32) (result i32)
            (if (result i32) (i32.eqz (local.get $n))
              (then (i32.const 0))
              (else (i32.add (call $recurse (i32.sub (local.get $n) (i32.const 1)))
                             (i32.const 1)))))
          (func (export "botbox:bot/handler@{version}#init") (result i32)
            {body}
            ;; result<manifest, string>: discriminant 1 (error) at 64, the string at 64 + 8.
            (i32.store8 (i32.const 64) (i32.const 1))
            (i32.store (i32.const 72) (i32.const 128))
            (i32.store (i32.const 76) (i32.const 4))
            (i32.const 64))
          (func (export "botbox:bot/handler@{version}#handle-update") (param i32) (result i32)
            unreachable))"#
    )
}

/// `core_module` turned into a component of the botbox world, as a guest toolchain would.
fn component(table_size: u32, body: &str) -> Vec<u8> {
    let mut core = wat::parse_str(core_module(table_size, body)).expect("valid WAT");
    let mut resolve = wit_parser::Resolve::default();
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let (package, _) = resolve.push_dir(&wit).expect("the contract parses");
    let world = resolve
        .select_world(&[package], Some("module"))
        .expect("the module world");
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("metadata");
    wit_component::ComponentEncoder::default()
        .module(&core)
        .expect("a module of the world")
        .validate(true)
        .encode()
        .expect("a component")
}

/// Compiles and instantiates a component of `body` under `limits` and runs its `init`: `Ok(())`
/// when the body got through, the error or trap message when it did not.
async fn run_init(limits: SandboxConfig, table_size: u32, body: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::new(&limits, &dir.path().join("cache")).expect("engine");
    let code = sandbox
        .compile("wat", &component(table_size, body))
        .map_err(|error| error.to_string())?;
    let db = Arc::new(Db::open(&dir.path().join("data")).expect("database"));
    let config = Config {
        sandbox: limits.clone(),
        ..Config::default()
    };
    let namespace = Arc::new(Namespace::for_init(
        db.raw().clone(),
        "wat",
        config.kv_limits(),
    ));
    let env = Arc::new(ModuleEnv {
        name: "wat".into(),
        kv: KvNamespace::Redb(namespace.clone()),
        namespace,
        tag: String::new(),
        config: toml::Table::new(),
        log: GuestLog::new("wat".into(), 60, 10),
        tickets: Arc::new(TicketCounter::new(0)),
        db,
        recent_tickets: Arc::default(),
        capabilities: parking_lot::RwLock::default(),
        max_timers: 0,
        max_timer_bytes: 0,
        queued_outbox: Arc::default(),
        max_queued_outbox_bytes: 0,
        clock: crate::clock::Clock::default(),
        http: super::OutgoingLimits::from_config(&config.http),
        bot: None,
        reads: Default::default(),
        wanted_kinds: Default::default(),
    });
    let mut instance = match sandbox.instantiate(&code, env).await {
        Ok(instance) => instance,
        Err(error) => return Err(error.to_string()),
    };
    match instance.init().await {
        Err(CallError::Refused(done)) if done == "done" => Ok(()),
        Err(CallError::Trap(message)) => Err(message),
        other => panic!("init returned {other:?}"),
    }
}

fn limits(change: impl FnOnce(&mut SandboxConfig)) -> SandboxConfig {
    let mut limits = SandboxConfig::default();
    change(&mut limits);
    limits
}

/// Grows table `$t` by `n` elements; a failed growth without a trap is a failure too.
fn grow_table(n: u32) -> String {
    format!(
        "(if (i32.eq (table.grow $t (ref.null func) (i32.const {n})) (i32.const -1)) (then unreachable))"
    )
}

#[tokio::test]
async fn a_table_grows_up_to_max_table_elements_and_a_growth_past_it_traps() {
    let small = |l: &mut SandboxConfig| l.max_table_elements = 1000;
    assert_eq!(run_init(limits(small), 1, &grow_table(999)).await, Ok(()));
    let error = run_init(limits(small), 1, &grow_table(1000))
        .await
        .expect_err("1001 elements are over the limit");
    assert!(
        error.contains("forcing trap when growing table to 1001 elements"),
        "{error}"
    );
    // The same growth fits under a larger limit.
    let large = |l: &mut SandboxConfig| l.max_table_elements = 5000;
    assert_eq!(run_init(limits(large), 1, &grow_table(1000)).await, Ok(()));
}

#[tokio::test]
async fn a_module_whose_table_starts_past_max_table_elements_is_refused() {
    let small = |l: &mut SandboxConfig| l.max_table_elements = 1000;
    let error = run_init(limits(small), 1001, "")
        .await
        .expect_err("a table of 1001 elements is over the limit");
    assert!(
        error.contains("not a valid component")
            && error.contains("table index 0 has a minimum element size of 1001")
            && error.contains("limit of 1000"),
        "{error}"
    );
    assert_eq!(run_init(limits(small), 1000, "").await, Ok(()));
}

#[tokio::test]
async fn recursion_deeper_than_max_stack_kib_allows_traps_and_the_knob_moves_the_limit() {
    // About 20,000 frames: past 64 KiB of stack, well within 4 MiB.
    let recurse = "(drop (call $recurse (i32.const 20000)))";
    let error = run_init(limits(|l| l.max_stack_kib = 64), 1, recurse)
        .await
        .expect_err("64 KiB is too little");
    assert!(error.contains("call stack exhausted"), "{error}");
    assert_eq!(
        run_init(limits(|l| l.max_stack_kib = 4096), 1, recurse).await,
        Ok(())
    );
}

#[tokio::test]
async fn memory_grows_up_to_memory_mib_and_a_growth_past_it_traps() {
    // 64 KiB pages: 15 more make 1 MiB with the first one; 16 more are past it.
    let grow = |pages: u32| {
        format!("(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable))")
    };
    let one_mib = |l: &mut SandboxConfig| l.memory_mib = 1;
    assert_eq!(run_init(limits(one_mib), 1, &grow(15)).await, Ok(()));
    let error = run_init(limits(one_mib), 1, &grow(16))
        .await
        .expect_err("past 1 MiB");
    assert!(
        error.contains("forcing trap when growing memory to 1114112 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_call_that_runs_past_call_timeout_ms_is_stopped() {
    let short = |l: &mut SandboxConfig| l.call_timeout_ms = 50;
    let error = run_init(limits(short), 1, "(loop $forever (br $forever))")
        .await
        .expect_err("an endless loop is stopped");
    assert!(error.contains(super::instance::DEADLINE_MESSAGE), "{error}");
}

/// Everything written through `tracing` while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[test]
fn a_module_writing_10_000_lines_gets_log_lines_per_minute_into_the_log_and_keeps_the_last() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let log = GuestLog::new("flooder".into(), 60, 20);
    let started = std::time::Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..10_000 {
            log.line("info", &format!("flood line {i}"));
        }
    });
    let written = String::from_utf8(captured.0.lock().clone()).unwrap();
    let lines = written.lines().filter(|l| l.contains("flood line")).count();
    // A burst of 60, then one a second: an upper bound only, a slow machine writes more.
    let allowed = 60 + started.elapsed().as_secs() as usize + 1;
    assert!(
        (60..=allowed).contains(&lines),
        "{lines} lines reached the log, {allowed} allowed"
    );
    assert!(
        written.contains("flooder"),
        "lines are tagged with the module"
    );
    let kept = log.tail(usize::MAX);
    assert_eq!(kept.len(), 20, "lines kept for `botbox module logs`");
    assert_eq!(kept[19].text, "flood line 9999");
}
