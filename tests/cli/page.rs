//! The web page `accord serve` serves at `/`, in a real browser: headless
//! Chromium loads it from a server on 127.0.0.1, with ISA and 2020-12-09
//! selected, and the test reads the DOM it built and the screenshot it drew.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::serve::Server;
use crate::support::{self, Ledger};

/// Chromium as a test runs it: headless, no sandbox (CI runs as root), and
/// none of the background connections a closed network refuses.
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // The page fetches its data; virtual time runs until it is in.
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium")
}

#[test]
fn the_page_shows_isas_ten_members_on_2020_12_09_in_a_real_browser() {
    if !support::tool_available("chromium") {
        return;
    }
    let l = Ledger::new();
    l.run(&["import", support::s(&support::isa_log())]).ok();
    let server = Server::start(&l, &[]);
    let url = format!("{}/?org=isa&at=2020-12-09", server.url);
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("data-ready=\"1\""), "the page finished loading: {dom}");
    let rows: Vec<&str> =
        dom.split("<tr class=\"member\" data-party=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert_eq!(rows.len(), 10, "ten members on 2020-12-09: {rows:?}");
    assert!(rows.contains(&"ISR"), "Israel among them: {rows:?}");
    let count = dom.split("id=\"member-count\"").nth(1).and_then(|r| r.split_once('>')).map(|(_, r)| r);
    let count = count.and_then(|r| r.split('<').next()).unwrap_or_default();
    assert_eq!(count, "10", "the count says 10");
    assert!(dom.contains("<option value=\"isa\""), "isa is in the org list");
    // The timeline picture and the checkpoint are in the page.
    assert!(dom.contains("<svg"), "the timeline is drawn");
    let checkpoint = dom.split("id=\"checkpoint\"").nth(1).unwrap_or_default();
    assert!(checkpoint.contains("\n14\n"), "the checkpoint names the log's 14 events: {checkpoint:.300}");
    // No asset from elsewhere: the viewing machine may be offline.
    for external in ["src=\"http", "href=\"http://", "@import", "url(http"] {
        let page = super::serve::curl("GET", &format!("{}/", server.url), &[], None);
        assert!(!page.body.contains(external), "the page loads nothing from elsewhere ({external})");
    }

    // The picture as a person sees it: the screenshot shows the timeline's
    // green bars and the members' badges, not a blank or an error page.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-isa-2020-12-09.png");
    let _ = std::fs::remove_file(&shot);
    let drawn =
        chromium(&["--window-size=1280,1600", &format!("--screenshot={}", shot.display()), &url], profile.path());
    assert!(shot.is_file(), "chromium saved no screenshot: {}", String::from_utf8_lossy(&drawn.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).expect("open the PNG")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("decode the PNG");
    let channels = info.color_type.samples();
    let green = pixels
        .chunks(channels)
        .filter(|p| p[0].abs_diff(0x2f) < 12 && p[1].abs_diff(0x9e) < 12 && p[2].abs_diff(0x44) < 12)
        .count();
    // ISA's twelve lanes are 12 bars of hundreds of pixels by 12: tens of thousands.
    assert!(green > 20_000, "the screenshot shows {green} pixels of the full members' green: {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}
