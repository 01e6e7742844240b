use llmtap::capture;
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let (h, mut rx) = capture::start(capture::CaptureSettings::default()).await?;
    let t = tokio::spawn(async move {
        let mut n = 0;
        while let Some(ev) = rx.recv().await {
            if let capture::CaptureEvent::Chunk(c) = ev {
                n += 1;
                println!(
                    "chunk pid={} comm={} dir={:?} off={} len={}",
                    c.process.pid,
                    c.process.comm,
                    c.direction,
                    c.offset,
                    c.data.len()
                );
            }
        }
        n
    });
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let st = h.stop().await;
    println!("{}", serde_json::to_string_pretty(&st)?);
    drop(t);
    Ok(())
}
