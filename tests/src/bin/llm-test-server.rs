//! The local LLM test server as a program (for `cargo xtask demo`): OpenAI- and
//! Anthropic-shaped APIs over TLS on loopback. Prints `listening https://…` and serves until
//! killed. Usage: `llm-test-server [ADDR]` (default `127.0.0.1:0`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let server = tests::llm_server::LlmServer::start_on(&addr).await?;
    println!("listening {}", server.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
