//! Every action, observed on the wire over UDP and TCP.

use std::time::{Duration, Instant};

use hickory_proto::{
    op::{Message, ResponseCode},
    rr::RecordType,
};

use crate::util::{
    self, SILENCE, WAIT, answer_data, query, tcp, tcp_raw, udp, udp_raw, udp_silent,
};

const WWW: &str = "www.example.com.";

#[tokio::test]
async fn rcode_actions() {
    let s = util::server(&[
        "servfail name=sf.example.com.",
        "refused name=rf.example.com.",
        "nxdomain name=www.example.com. qtype=AAAA",
        "answer name=www.example.com.",
    ])
    .await;
    let sf = udp(s.addr(), &query("sf.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(sf.metadata.response_code, ResponseCode::ServFail);
    let rf = tcp(s.addr(), &query("rf.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(rf.metadata.response_code, ResponseCode::Refused);
    let nx = udp(s.addr(), &query(WWW, RecordType::AAAA, None))
        .await
        .unwrap();
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        nx.metadata.authoritative && !nx.authorities.is_empty(),
        "a real-looking NXDOMAIN"
    );
    let ok = udp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&ok), ["192.0.2.10"]);
    let c = s.counters();
    assert_eq!(c.queries, 4);
    assert_eq!(
        c.rules.iter().map(|r| r.fired).collect::<Vec<_>>(),
        [1, 1, 1, 1]
    );
    s.shutdown().await;
}

#[tokio::test]
async fn drop_sends_nothing_over_udp_or_tcp() {
    let s = util::server(&["drop name=www.example.com."]).await;
    assert!(udp_silent(s.addr(), &query(WWW, RecordType::A, None)).await);
    let bytes = query(WWW, RecordType::A, None).to_vec().unwrap();
    assert!(tcp_raw(s.addr(), &bytes, SILENCE).await.is_none());
    // Other names are still answered.
    assert!(
        udp(s.addr(), &query("ns1.example.com.", RecordType::A, None))
            .await
            .is_some()
    );
    assert_eq!(s.counters().rules[0].fired, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn truncate_sets_tc_over_udp_and_answers_over_tcp() {
    let s = util::server(&["truncate"]).await;
    let u = udp(s.addr(), &query(WWW, RecordType::A, Some(1232)))
        .await
        .unwrap();
    assert!(u.metadata.truncation);
    assert!(u.answers.is_empty());
    let t = tcp(s.addr(), &query(WWW, RecordType::A, None))
        .await
        .unwrap();
    assert!(!t.metadata.truncation);
    assert_eq!(answer_data(&t), ["192.0.2.10"]);
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_id_answers_with_another_id() {
    let s = util::server(&["wrong-id"]).await;
    for tcp_too in [false, true] {
        let q = query(WWW, RecordType::A, None);
        let bytes = q.to_vec().unwrap();
        let reply = if tcp_too {
            tcp_raw(s.addr(), &bytes, WAIT).await.unwrap()
        } else {
            udp_raw(s.addr(), &bytes, WAIT).await.unwrap().0
        };
        let r = Message::from_vec(&reply).unwrap();
        assert_ne!(r.metadata.id, q.metadata.id);
        assert_eq!(answer_data(&r), ["192.0.2.10"], "otherwise a full answer");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_comes_from_the_server_port_with_the_id_but_does_not_parse() {
    let s = util::server(&["malformed"]).await;
    let q = query(WWW, RecordType::A, None);
    let (bytes, from) = udp_raw(s.addr(), &q.to_vec().unwrap(), WAIT).await.unwrap();
    assert_eq!(from, s.addr());
    assert_eq!(u16::from_be_bytes([bytes[0], bytes[1]]), q.metadata.id);
    assert!(Message::from_vec(&bytes).is_err(), "must not parse");
    let t = tcp_raw(s.addr(), &q.to_vec().unwrap(), WAIT).await.unwrap();
    assert!(Message::from_vec(&t).is_err());
    s.shutdown().await;
}

#[tokio::test]
async fn delay_holds_one_reply_without_blocking_others() {
    let s = util::server(&["answer name=www.example.com. delay=2s"]).await;
    let addr = s.addr();
    let start = Instant::now();
    let slow = tokio::spawn(async move { udp(addr, &query(WWW, RecordType::A, None)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fast = udp(addr, &query("ns1.example.com.", RecordType::A, None))
        .await
        .unwrap();
    assert_eq!(answer_data(&fast), ["192.0.2.53"]);
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "the fast query was not held up"
    );
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(answer_data(&slow), ["192.0.2.10"]);
    assert!(start.elapsed() >= Duration::from_secs(2));
    s.shutdown().await;
}

#[tokio::test]
async fn delay_over_tcp_does_not_hold_up_pipelined_queries() {
    use tokio::io::AsyncWriteExt;
    let s = util::server(&["servfail name=www.example.com. delay=1500ms"]).await;
    let mut conn = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let q1 = query(WWW, RecordType::A, None);
    let q2 = query("ns1.example.com.", RecordType::A, None);
    for q in [&q1, &q2] {
        let b = q.to_vec().unwrap();
        conn.write_all(&(b.len() as u16).to_be_bytes())
            .await
            .unwrap();
        conn.write_all(&b).await.unwrap();
    }
    let first = Message::from_vec(&util::read_framed(&mut conn, WAIT).await.unwrap()).unwrap();
    let second = Message::from_vec(&util::read_framed(&mut conn, WAIT).await.unwrap()).unwrap();
    assert_eq!(
        first.metadata.id, q2.metadata.id,
        "the undelayed reply comes first"
    );
    assert_eq!(second.metadata.id, q1.metadata.id);
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    s.shutdown().await;
}

#[tokio::test]
async fn decision_log_has_one_json_line_per_query() {
    let dir = std::env::temp_dir().join(format!("faultdns-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("decisions.jsonl");
    let s = faultdns::Server::builder()
        .zone(util::ZONE)
        .unwrap()
        .rule("drop name=www.example.com. qtype=AAAA")
        .unwrap()
        .log(faultdns::LogTarget::File(path.clone()))
        .start()
        .await
        .unwrap();
    let q = query(WWW, RecordType::A, None);
    udp(s.addr(), &q).await.unwrap();
    assert!(udp_silent(s.addr(), &query(WWW, RecordType::AAAA, None)).await);
    s.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], q.metadata.id);
    assert_eq!(lines[0]["name"], WWW);
    assert_eq!(lines[0]["type"], "A");
    assert_eq!(lines[0]["proto"], "udp");
    assert_eq!(lines[0]["rule"], serde_json::Value::Null);
    assert_eq!(lines[0]["action"], "answer");
    assert_eq!(lines[1]["rule"], 0);
    assert_eq!(lines[1]["action"], "drop");
    assert!(
        lines[1]["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
    std::fs::remove_dir_all(&dir).unwrap();
}
