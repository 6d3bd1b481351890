//! Runs a test binary (a wasm32-wasip2 command component) in wasmtime.

use std::{net::SocketAddr, path::Path};

use wasmtime::{
    Cache, CacheConfig, Config, Engine, Store,
    component::{Component, Linker, ResourceTable, types::ComponentItem},
};
use wasmtime_wasi::{
    I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView, p2::bindings::Command,
    sockets::SocketAddrUse,
};

/// The test binary's WASI state.
struct TestBinary {
    wasi: WasiCtx,
    table: ResourceTable,
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

/// Runs `binary` with `args` and returns its exit status. It reaches the runner at `control`
/// (`BOTBOX_TEST_ADDR`); it may open TCP connections to loopback addresses only, and sees no
/// files.
pub(super) async fn run_test_binary(
    binary: &Path,
    args: &[String],
    control: SocketAddr,
    cache_dir: &Path,
) -> anyhow::Result<i32> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Compiling a debug test binary takes seconds; an unchanged one is loaded from the cache.
    if std::fs::create_dir_all(cache_dir).is_ok() {
        let mut cache = CacheConfig::new();
        cache.with_directory(cache_dir);
        if let Ok(cache) = Cache::new(cache) {
            config.cache(Some(cache));
        }
    }
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, binary)
        .map_err(|e| anyhow::anyhow!("cannot load the test binary {}: {e:#}", binary.display()))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    // A library's unit tests link the module's own imports (KV, outbox, ...): they trap if a
    // test calls them, and pure functions can be tested. Conversations go through the bot.
    stub_module_imports(&engine, &component, &mut linker)?;

    let mut argv = vec![binary.display().to_string()];
    argv.extend(args.iter().cloned());
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio()
        .args(&argv)
        .env("BOTBOX_TEST_ADDR", control.to_string())
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
    // Output goes straight to the terminal: a failing test aborts the binary (wasm cannot
    // unwind), and output libtest had captured would be lost with it.
    if std::env::var_os("RUST_TEST_NOCAPTURE").is_none() {
        wasi.env("RUST_TEST_NOCAPTURE", "1");
    }
    // libtest reads these (a filter, the thread count, colour and output capture choices).
    for (key, value) in std::env::vars() {
        if key.starts_with("RUST_TEST_") {
            wasi.env(&key, &value);
        }
    }
    let mut store = Store::new(
        &engine,
        TestBinary {
            wasi: wasi.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate_async(&mut store, &component, &linker)
        .await
        .map_err(|e| anyhow::anyhow!("the test binary cannot run as a WASI command: {e:#}"))?;
    match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => {
                // A failed assertion aborts (wasm has no unwinding); its message is printed.
                eprintln!("botbox test-runner: the test binary stopped: {e:#}");
                Ok(101)
            }
        },
    }
}
