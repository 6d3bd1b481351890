//! Runs a test binary (a wasm32-wasip2 command component) in wasmtime.

use std::{net::SocketAddr, path::Path};

use crate::sandbox::{CodeCache, module_hash};
use wasmtime::{
    Config, Engine, Store,
    component::{Component, Linker, ResourceTable, types::ComponentItem},
};

use wasmtime_wasi::{
    I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
    p2::{bindings::Command, pipe::MemoryOutputPipe},
    sockets::SocketAddrUse,
};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The test binary's WASI state.
struct TestBinary {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// wasmtime-wasi-http's defaults: the tests are the author's own code, like a build script.
    http_hooks: [(); 0],
    table: ResourceTable,
}

impl WasiHttpView for TestBinary {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

impl WasiView for TestBinary {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Defines every function of the `botbox:*` interfaces `component` imports as one that fails,
/// saying why. (wasmtime's `define_unknown_imports_as_traps` would also shadow WASI interfaces
/// of a newer minor version than the host's, which the linker otherwise matches by semver.)
fn stub_module_imports(
    engine: &Engine,
    component: &Component,
    linker: &mut Linker<TestBinary>,
) -> anyhow::Result<()> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("botbox:") {
            continue;
        }
        let mut stubs = linker.instance(name)?;
        for (func, item) in instance.exports(engine) {
            if let ComponentItem::ComponentFunc(_) = item.ty {
                let what = format!("{name}#{func}");
                stubs.func_new(func, move |_, _, _, _| {
                    Err(wasmtime::Error::msg(format!(
                        "{what} was called from a unit test: the host's interfaces exist only \
                         in a bot; test conversations with botbox_test::Bot instead"
                    )))
                })?;
            }
        }
    }
    Ok(())
}

/// A loaded test binary, run once per test (see `isolate.rs`).
pub(super) struct TestProgram {
    engine: Engine,
    component: Component,
    linker: Linker<TestBinary>,
    name: String,
    control: SocketAddr,
}

/// Where a run's standard output goes.
pub(super) enum Stdout {
    /// To the terminal.
    Inherit,
    /// Into memory, returned with the exit status.
    Capture,
}

impl TestProgram {
    /// Compiles (or loads from `cache_dir`) the test binary. It will reach the runner at
    /// `control` (`BOTBOX_TEST_ADDR`).
    pub(super) fn load(
        binary: &Path,
        control: SocketAddr,
        cache_dir: &Path,
    ) -> anyhow::Result<TestProgram> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let cannot = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!("cannot load the test binary {}: {e:#}", binary.display())
        };
        let bytes = std::fs::read(binary).map_err(|e| cannot(&e))?;
        // Compiling a debug test binary takes seconds; an unchanged one comes from the cache
        // (without one, say on a read-only home, it compiles every time).
        let component = match CodeCache::new(cache_dir, &engine) {
            Ok(cache) => cache.load(&engine, &module_hash(&bytes), &bytes),
            Err(_) => Component::new(&engine, &bytes),
        }
        .map_err(|e| cannot(&e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // A module that uses HTTP links wasi:http into its unit tests too.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        // A library's unit tests link the module's own imports (KV, outbox, ...): they fail
        // if a test calls them, and pure functions can be tested. Conversations go through
        // the bot.
        stub_module_imports(&engine, &component, &mut linker)?;
        Ok(TestProgram {
            engine,
            component,
            linker,
            name: binary.display().to_string(),
            control,
        })
    }

    /// Runs the binary once, in a fresh instance, with `args`; returns its exit status and, if
    /// asked for, its standard output. Standard error goes to the terminal. The binary may open
    /// TCP connections to loopback addresses only, and sees no files.
    pub(super) async fn run(
        &self,
        args: &[String],
        stdout: Stdout,
    ) -> anyhow::Result<(i32, String)> {
        let mut argv = vec![self.name.clone()];
        argv.extend(args.iter().cloned());
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdin()
            .inherit_stderr()
            .args(&argv)
            .env("BOTBOX_TEST_ADDR", self.control.to_string())
            .allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // A connection binds its socket to the wildcard address first ("implicit bind").
            .socket_addr_check(|addr, use_| {
                let ip = addr.ip();
                let allowed = match use_ {
                    SocketAddrUse::TcpBind => ip.is_loopback() || ip.is_unspecified(),
                    _ => ip.is_loopback(),
                };
                Box::pin(async move { allowed })
            });
        let captured = match stdout {
            Stdout::Inherit => {
                wasi.inherit_stdout();
                None
            }
            Stdout::Capture => {
                let pipe = MemoryOutputPipe::new(16 << 20);
                wasi.stdout(pipe.clone());
                Some(pipe)
            }
        };
        // A failing test aborts its instance (wasm cannot unwind): what libtest would have
        // captured must be written at once or it is lost.
        wasi.env("RUST_TEST_NOCAPTURE", "1");
        for (key, value) in std::env::vars() {
            if key.starts_with("RUST_TEST_") && key != "RUST_TEST_NOCAPTURE" {
                wasi.env(&key, &value);
            }
        }
        let mut store = Store::new(
            &self.engine,
            TestBinary {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                http_hooks: [],
                table: ResourceTable::new(),
            },
        );
        let command = Command::instantiate_async(&mut store, &self.component, &self.linker)
            .await
            .map_err(|e| anyhow::anyhow!("the test binary cannot run as a WASI command: {e:#}"))?;
        let code = match command.wasi_cli_run().call_run(&mut store).await {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0,
                None => {
                    // A failed assertion aborts; its message is already on stderr.
                    eprintln!("the test stopped: {}", e.root_cause());
                    101
                }
            },
        };
        let out = captured
            .map(|p| String::from_utf8_lossy(&p.contents()).into_owned())
            .unwrap_or_default();
        Ok((code, out))
    }
}
