//! Start and shutdown: nothing is left running, and the port is free again.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use tokio::io::AsyncWriteExt;

use crate::util::{self, query, udp};

#[tokio::test]
async fn shutdown_leaves_no_task_behind() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let s = util::server(&["answer name=www.example.com. delay=30s"]).await;
    let addr = s.addr();
    // A delayed reply pending, an open TCP connection, a served query.
    let q = query("www.example.com.", RecordType::A, None)
        .to_vec()
        .unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&q, addr).await.unwrap();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(&[0, 12]).await.unwrap();
    assert!(
        udp(addr, &query("ns1.example.com.", RecordType::A, None))
            .await
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        metrics.num_alive_tasks() > before + 2,
        "server tasks are running"
    );
    // A second server cannot take over the same port (the UDP sockets share it with
    // SO_REUSEPORT, but the TCP listener does not).
    let second = faultdns::Server::builder().listen(addr).start().await;
    assert!(
        matches!(second, Err(faultdns::Error::Bind { .. })),
        "{second:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), s.shutdown())
        .await
        .expect("shutdown does not wait for the 30 s delay");
    assert_eq!(metrics.num_alive_tasks(), before, "every task ended");
    // The port can be bound again.
    let again = faultdns::Server::builder()
        .listen(addr)
        .start()
        .await
        .unwrap();
    again.shutdown().await;
}
