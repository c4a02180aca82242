//! The HTTP endpoint behind `--metrics`: counters for Prometheus, and live control of the rules.
//!
//! - `GET /metrics` (or `/`): the counters in Prometheus text format.
//! - `GET /counters`: the counters as JSON (per rule matched/fired, upstream outcomes, ...).
//! - `GET /rules`: the rules in force, as a JSON array of strings (canonical text).
//! - `PUT /rules`: a new rule list, as a JSON array of strings or as text with one rule per
//!   line (empty lines and `#` comments ignored). Every rule is parsed first, with the same
//!   errors as `--rule`; on any error the answer is 400 with the error and the rules in force
//!   stay as they were; otherwise the whole list replaces them at once (their counters start
//!   again) and the answer is the new list.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use faultdns::{Rule, Server};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode,
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, time::timeout};

use crate::plan;

/// Largest rule list accepted by `PUT /rules`.
const MAX_BODY: usize = 1 << 20;
/// A connection is closed after this long, whatever it is doing.
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);

/// Bind the endpoint; serving runs until the returned task is aborted. `forwarding` says
/// whether the server has upstreams (rules acting on replies need them).
pub async fn start(
    addr: SocketAddr,
    server: Arc<Server>,
    forwarding: bool,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let server = server.clone();
                    conns.spawn(async move {
                        let service = service_fn(move |req| respond(req, server.clone(), forwarding));
                        // One request per connection: simple clients read to the end.
                        let conn = http1::Builder::new()
                            .keep_alive(false)
                            .timer(TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(5))
                            .serve_connection(TokioIo::new(stream), service);
                        let _ = timeout(CONNECTION_LIMIT, conn).await;
                    });
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    }))
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let mut body = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    body.push('\n');
    reply(status, "application/json", body)
}

async fn respond(
    req: Request<Incoming>,
    server: Arc<Server>,
    forwarding: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    Ok(match (req.method(), path.as_str()) {
        (&Method::GET, "/metrics" | "/") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            server.counters().prometheus_text(),
        ),
        (&Method::GET, "/counters") => json(StatusCode::OK, &server.counters()),
        (&Method::GET, "/rules") => json(StatusCode::OK, &server.rules()),
        (&Method::PUT, "/rules") => {
            let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => {
                    return Ok(reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "text/plain",
                        format!("cannot read the rule list: {e}\n"),
                    ));
                }
            };
            match parse_rule_list(&body, forwarding) {
                Ok(rules) => {
                    server.set_rules(rules);
                    json(StatusCode::OK, &server.rules())
                }
                Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n")),
            }
        }
        (_, "/metrics" | "/" | "/counters" | "/rules") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET /metrics, /counters, /rules; PUT /rules\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics, /counters or /rules\n".into(),
        ),
    })
}

/// A rule list from a request body: a JSON array of strings, or one rule per line. The error
/// names the entry (`rule 2` of an array, `line 3` of text) and says what `--rule` would say.
pub fn parse_rule_list(body: &[u8], forwarding: bool) -> anyhow::Result<Vec<Rule>> {
    let text = std::str::from_utf8(body).map_err(|_| anyhow::anyhow!("the body is not UTF-8"))?;
    let entries: Vec<(String, String)> = if text.trim_start().starts_with('[') {
        let list: Vec<String> = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("expected a JSON array of rule strings: {e}"))?;
        list.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("rule {}", i + 1), r))
            .collect()
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| (format!("line {}", i + 1), l.to_string()))
            .collect()
    };
    let mut rules = Vec::with_capacity(entries.len());
    for (at, text) in entries {
        let rule: Rule = text.parse().map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        plan::check_phase(&rule, forwarding).map_err(|e| anyhow::anyhow!("{at}: {e}"))?;
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_lists_parse_as_json_or_lines_with_located_errors() {
        let r = parse_rule_list(br#"["drop name=a.", "servfail p=0.5"]"#, false).unwrap();
        assert_eq!(r.len(), 2);
        let r = parse_rule_list(b"# faults\ndrop name=a.\n\n  servfail every=2\n", false).unwrap();
        assert_eq!(r.len(), 2);
        assert!(parse_rule_list(b"", false).unwrap().is_empty());
        let e = parse_rule_list(b"drop\ndorp name=b.\n", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("line 2: bad rule") && e.contains("(at `dorp`)"),
            "{e}"
        );
        let e = parse_rule_list(br#"["drop", "drop p=2"]"#, false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rule 2:") && e.contains("(at `p=2`)"), "{e}");
        let e = parse_rule_list(b"servfail on=reply", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--upstream"), "{e}");
        assert!(parse_rule_list(b"servfail on=reply", true).is_ok());
        assert!(parse_rule_list(br#"["drop", 3]"#, false).is_err());
        assert!(parse_rule_list(&[0xff, 0xfe], false).is_err());
    }
}
