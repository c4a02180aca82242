//! The namespace lab itself: wiring, loss injection, teardown.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stubborn_tests::netns::{Lab, leftovers};
use stubborn_tests::{assert_clean, require, serial};

/// Starts a UDP echo server inside the lab's resolver namespace; stops when `stop` is set.
fn echo_server(lab: &Lab, port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let addr = SocketAddr::from((lab.resolver().addr, port));
    let socket = lab
        .resolver()
        .ns
        .enter(move || UdpSocket::bind(addr))
        .expect("enter resolver namespace")
        .expect("bind echo socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    std::thread::spawn(move || {
        let mut echoed = 0;
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                socket.send_to(&buf[..n], from).unwrap();
                echoed += 1;
            }
        }
        echoed
    })
}

/// Sends `count` numbered datagrams from host `i`, 100 at a time, and counts the distinct
/// echoes that come back (an echo not back 200 ms after its batch is lost).
fn probe(lab: &Lab, i: usize, port: u16, count: u32) -> u32 {
    let server = SocketAddr::from((lab.resolver().addr, port));
    let socket = lab
        .host(i)
        .ns
        .enter(|| UdpSocket::bind("0.0.0.0:0"))
        .expect("enter host namespace")
        .expect("bind probe socket");
    socket.connect(server).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut seen = vec![false; count as usize];
    let mut buf = [0u8; 16];
    for batch in (0..count).collect::<Vec<_>>().chunks(100) {
        for seq in batch {
            socket.send(&seq.to_be_bytes()).unwrap();
        }
        while let Ok(4) = socket.recv(&mut buf) {
            let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
            seen[seq as usize] = true;
        }
    }
    seen.iter().filter(|s| **s).count() as u32
}

#[test]
fn lab_wires_hosts_injects_loss_and_leaves_nothing_behind() {
    let _serial = serial();
    let Some(lab) = require("lab", Lab::new(2)) else {
        return;
    };
    let id = lab.id().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let echo = echo_server(&lab, 5300, stop.clone());

    // Host 0 has a clean link: every echo comes back.
    assert_eq!(probe(&lab, 0, 5300, 200), 200, "clean link lost datagrams");

    // Host 1 loses 30% of what it receives from the resolver host.
    lab.set_loss(1, 0.3).expect("nft loss rule");
    let n = 2000;
    let got = probe(&lab, 1, 5300, n);
    let loss = 1.0 - f64::from(got) / f64::from(n);
    // Binomial sd at n=2000, p=0.3 is about 1%: 6 sd of margin.
    assert!(
        (0.24..=0.36).contains(&loss),
        "loss {loss:.3}, want about 0.30"
    );
    assert_eq!(lab.dropped(1), u64::from(n - got), "nft counter disagrees");

    stop.store(true, Ordering::Relaxed);
    assert!(
        echo.join().unwrap() >= u64::from(200 + n),
        "server saw fewer queries"
    );
    drop(lab);
    let left: Vec<_> = leftovers()
        .into_iter()
        .filter(|p| p.contains(&id))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_clean();
}

#[test]
fn a_lab_left_by_an_interrupted_run_is_swept_with_its_processes() {
    let _serial = serial();
    if require("lab_sweep", stubborn_tests::netns::check_capabilities()).is_none() {
        return;
    }
    // What a run killed mid-way leaves: a namespace named after a process that is gone (pids
    // never reach 4194399), its /etc/netns files, and a process still running inside it.
    let stale = "stb-4194399-0-h0";
    let run = |args: &[&str]| {
        let ok = std::process::Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip {args:?}");
    };
    run(&["netns", "add", stale]);
    std::fs::create_dir_all(format!("/etc/netns/{stale}")).unwrap();
    std::fs::write(
        format!("/etc/netns/{stale}/resolv.conf"),
        "nameserver 198.18.0.1\n",
    )
    .unwrap();
    let mut orphan = std::process::Command::new("ip")
        .args(["netns", "exec", stale, "sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let lab = Lab::new(0).expect("lab");
    drop(lab);
    assert!(!std::path::Path::new(&format!("/var/run/netns/{stale}")).exists());
    assert!(!std::path::Path::new(&format!("/etc/netns/{stale}")).exists());
    // The sweep killed the process inside (we only reap it).
    let status = orphan.wait().unwrap();
    assert!(!status.success(), "sleep was not killed: {status}");
    assert_clean();
}
