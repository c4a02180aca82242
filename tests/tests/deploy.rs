//! The cluster deployment files: no cluster is here, so parse them and check what matters.

use std::path::Path;

use clap::Parser;
use dnsload::{BackendKind, Cli, Command, Plan, Schedule};
use yaml_rust2::{Yaml, YamlLoader};

fn workspace_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(rel: &str) -> Yaml {
    let docs = YamlLoader::load_from_str(&workspace_file(rel)).expect("valid YAML");
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.into_iter().next().unwrap()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

/// The value after `flag` in an argument list.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

#[test]
fn daemonset_runs_one_bounded_labelled_scraped_pod_per_node() {
    let ds = load("deploy/k8s/dnsload-daemonset.yaml");
    assert_eq!(ds["apiVersion"].as_str(), Some("apps/v1"));
    assert_eq!(ds["kind"].as_str(), Some("DaemonSet"));
    let selector = &ds["spec"]["selector"]["matchLabels"];
    let template = &ds["spec"]["template"];
    assert_eq!(
        selector, &template["metadata"]["labels"],
        "the selector must match the pod labels"
    );

    let containers = template["spec"]["containers"].as_vec().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let args = strings(&c["args"]);
    assert_eq!(args[0], "run");

    // dnsload's own command line accepts the arguments as Kubernetes passes them (with
    // `$(NODE_NAME)` expanded), and the validated plan is the bounded, labelled loop we want.
    let expanded: Vec<String> = args
        .iter()
        .map(|a| a.replace("$(NODE_NAME)", "node-a"))
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("dnsload".to_string()).chain(expanded))
        .unwrap_or_else(|e| panic!("dnsload rejects the DaemonSet's args: {e}"));
    let Command::Run(run) = cli.command else {
        panic!("not `dnsload run`")
    };
    let plan = Plan::from_args(&run).unwrap_or_else(|e| panic!("invalid plan: {e}"));
    assert_eq!(plan.host, "node-a");
    assert!(plan.bounds.duration.is_some() || plan.bounds.count.is_some());
    assert!(matches!(plan.schedule, Schedule::Closed { workers: 1, .. }));
    assert!(plan.outputs.stdout_taken(), "events must go to stdout");
    assert!(plan.outputs.quiet, "the log must hold JSON lines only");
    assert_eq!(
        plan.outputs.metrics.map(|m| m.port()),
        Some(9153),
        "metrics port"
    );
    // The pod's own resolv.conf (ClusterFirst: the cluster DNS, ndots:5), as its apps see it.
    assert_eq!(plan.backend, BackendKind::Stub);
    assert!(
        plan.resolver.system_config,
        "the pod's own resolv.conf, asked for"
    );
    assert_eq!(
        plan.resolver.resolv_conf.as_deref(),
        Some(Path::new("/etc/resolv.conf"))
    );

    // The node name is the host label, through the downward API.
    assert_eq!(flag(&args, "--host"), Some("$(NODE_NAME)"));
    let env = c["env"].as_vec().unwrap();
    let node = env
        .iter()
        .find(|e| e["name"].as_str() == Some("NODE_NAME"))
        .expect("NODE_NAME env");
    assert_eq!(
        node["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("spec.nodeName")
    );

    // Events and the run's summary as JSON lines on stdout, for the log pipeline.
    assert_eq!(flag(&args, "--events"), Some("/dev/stdout"));
    assert_eq!(flag(&args, "--summary-json"), Some("/dev/stdout"));
    assert!(
        args.iter().any(|a| a == "--quiet"),
        "human summary in the log"
    );

    // Every run is bounded; the pod restarts it.
    assert!(
        flag(&args, "--duration").is_some() || flag(&args, "--count").is_some(),
        "dnsload runs must be bounded: {args:?}"
    );

    // Prometheus scrapes the port dnsload serves metrics on.
    let annotations = &template["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    let port = annotations["prometheus.io/port"].as_str().unwrap();
    let metrics = flag(&args, "--metrics").expect("--metrics");
    assert!(
        metrics.ends_with(&format!(":{port}")),
        "--metrics {metrics} vs port {port}"
    );
    let exposed = c["ports"].as_vec().unwrap();
    assert!(
        exposed
            .iter()
            .any(|p| p["containerPort"].as_i64().map(|n| n.to_string()) == Some(port.into())),
        "container port {port} not exposed"
    );

    // Bounded resources: requests and limits for cpu and memory.
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][res].as_str().is_some(),
                "resources.{kind}.{res} missing"
            );
        }
    }
    assert_eq!(c["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
}

#[test]
fn containerfile_builds_both_tools_and_runs_unprivileged() {
    let file = workspace_file("deploy/Containerfile");
    assert!(
        file.contains(
            "cargo build --release --locked -p dnsload -p faultdns --features faultdns/cli"
        )
    );
    for bin in ["dnsload", "faultdns"] {
        assert!(
            file.contains(&format!("/usr/local/bin/{bin}")),
            "{bin} not installed"
        );
    }
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(!user.starts_with('0'), "the image must not run as root");
    // The DaemonSet's image user matches the Containerfile's.
    let ds = load("deploy/k8s/dnsload-daemonset.yaml");
    let uid = ds["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"]
        .as_i64()
        .unwrap();
    assert!(
        user.starts_with(&format!("{uid}:")),
        "USER {user} vs runAsUser {uid}"
    );
}
