//! No container engine runs here, so `deploy/` is checked for what can be checked without one:
//! every file parses, and the names and variables it uses are the ones the service reads.

use std::collections::BTreeSet;
use std::path::PathBuf;

use app::settings::VARIABLES;
use yaml_rust2::{Yaml, YamlLoader};

/// Variables read by something other than `Settings`: the log filter and the config layers.
const OTHER_VARIABLES: &[&str] = &["RUST_LOG", "APP_ENV", "CONFIG_DIR"];

pub fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn known(var: &str) -> bool {
    VARIABLES.contains(&var) || OTHER_VARIABLES.contains(&var)
}

fn keys(map: &Yaml) -> Vec<String> {
    map.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_kubernetes_manifest_parses_and_names_only_variables_the_service_reads() {
    for file in [
        "configmap.yaml",
        "secret.example.yaml",
        "deployment.yaml",
        "service.yaml",
    ] {
        let docs = yaml(&format!("deploy/k8s/{file}"));
        assert!(!docs.is_empty(), "{file} is empty");
        assert!(docs[0]["kind"].as_str().is_some(), "{file} has no kind");
    }
    let config = &yaml("deploy/k8s/configmap.yaml")[0];
    let secret = &yaml("deploy/k8s/secret.example.yaml")[0];
    for var in keys(&config["data"])
        .iter()
        .chain(&keys(&secret["stringData"]))
    {
        assert!(
            known(var),
            "{var} is set in deploy/k8s but the service does not read it"
        );
    }
}

#[test]
fn the_deployment_probes_health_and_readiness_on_the_configured_port() {
    let deployment = &yaml("deploy/k8s/deployment.yaml")[0];
    let config = &yaml("deploy/k8s/configmap.yaml")[0];
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    let port = container["ports"][0]["containerPort"]
        .as_i64()
        .expect("a container port");
    assert_eq!(
        config["data"]["PORT"].as_str(),
        Some(port.to_string().as_str())
    );
    let sources: BTreeSet<&str> = container["envFrom"]
        .as_vec()
        .expect("envFrom")
        .iter()
        .filter_map(|s| {
            s["configMapRef"]["name"]
                .as_str()
                .or_else(|| s["secretRef"]["name"].as_str())
        })
        .collect();
    let config_name = config["metadata"]["name"]
        .as_str()
        .expect("a configmap name");
    let secret_name = yaml("deploy/k8s/secret.example.yaml")[0]["metadata"]["name"]
        .as_str()
        .expect("a secret name")
        .to_owned();
    assert!(sources.contains(config_name) && sources.contains(secret_name.as_str()));
    let service = &yaml("deploy/k8s/service.yaml")[0];
    assert_eq!(
        service["spec"]["selector"]["app.kubernetes.io/name"],
        deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
    );
}

#[test]
fn the_compose_file_runs_mongodb_7_kafka_4_and_the_service_wired_to_both() {
    let compose = &yaml("deploy/docker-compose.yml")[0];
    let services = &compose["services"];
    assert!(
        services["mongodb"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("mongo:7"))
    );
    assert!(
        services["kafka"]["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("apache/kafka:4"))
    );
    let env = &services["billing"]["environment"];
    for var in keys(env) {
        assert!(
            known(&var),
            "{var} is set in docker-compose.yml but the service does not read it"
        );
    }
    assert!(
        env["MONGODB_URI"]
            .as_str()
            .is_some_and(|u| u.contains("mongodb:27017"))
    );
    assert!(
        env["KAFKA_BROKERS"]
            .as_str()
            .is_some_and(|b| b.starts_with("kafka:"))
    );
    assert_eq!(
        services["billing"]["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
}

#[test]
fn the_dockerfile_is_multi_stage_non_root_and_checks_health() {
    let dockerfile = read("deploy/Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "a build stage and a runtime stage");
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root"))
    );
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/healthz"));
    assert!(dockerfile.contains("EXPOSE 3000"));
    for line in dockerfile
        .lines()
        .filter(|l| l.trim_start().starts_with("ENV") || l.starts_with("    "))
    {
        for word in line.split_whitespace() {
            if let Some((var, _)) = word.split_once('=')
                && var.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && !var.is_empty()
            {
                assert!(
                    known(var),
                    "{var} is set in the Dockerfile but the service does not read it"
                );
            }
        }
    }
}

#[test]
fn env_example_documents_every_variable_the_service_reads() {
    let example = read(".env.example");
    for var in VARIABLES {
        assert!(
            example.contains(&format!("{var}=")),
            ".env.example does not document {var}"
        );
    }
}

#[test]
fn the_default_configuration_file_loads_on_its_own() {
    let config = root().join("config");
    let settings = app::Settings::load_from(|var| match var {
        "CONFIG_DIR" => Some(config.display().to_string()),
        _ => std::env::var(var).ok(),
    })
    .expect("config/default.toml loads");
    assert_eq!(settings.http.port, 3000);
    assert!(settings.storage.mongodb_uri.is_none() || std::env::var("MONGODB_URI").is_ok());
}
