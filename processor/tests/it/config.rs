//! The contract file: the embedded default, and errors that name file, line and field.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.
use ironforge_processor::config::{ConfigError, ContractFile, Profile};

fn invalid(text: &str) -> String {
    match ContractFile::parse(text, "contracts.yaml") {
        Err(err @ ConfigError::Invalid(_)) => err.to_string(),
        other => panic!("expected an invalid-file error, got {other:?}"),
    }
}

const MINIMAL: &str = "version: 1
contracts:
  - id: session_duration
    category: timing
    scope: { kind: session }
    measure: duration
    comparison: lt
    threshold: 3
    unit: s
    severity: critical
    blocks_production: true
";

#[test]
fn embedded_default_parses_with_every_documented_contract() {
    let file = ContractFile::embedded_default().unwrap();
    assert_eq!(file.profile, Profile::Production);
    let ids: Vec<&str> = file.contracts.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "session_duration",
        "run_duration",
        "init_duration",
        "run_memory_peak",
        "pattern_authenticity",
        "instrument_overhead",
        "event_types_known",
        "edge_intents_known",
        "node_feature_dim",
        "edge_feature_dim",
        "htf_closed_candles",
        "no_cross_session_edges",
        "unique_session_ids",
        "sessions_complete",
    ] {
        assert!(ids.contains(&id), "missing {id} in {ids:?}");
    }
}

#[test]
fn minimal_file_parses() {
    let file = ContractFile::parse(MINIMAL, "contracts.yaml").unwrap();
    assert_eq!(file.contracts.len(), 1);
    assert_eq!(file.completion.grace_seconds, 5.0);
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text = MINIMAL.replace("    unit: s\n", "    unit: s\n    treshold: 4\n");
    let message = invalid(&text);
    assert!(message.starts_with("contracts.yaml:10:"), "{message}");
    assert!(message.contains("contracts[0]"), "{message}");
    assert!(message.contains("treshold"), "{message}");
}

#[test]
fn bad_enum_value_names_the_field() {
    let message = invalid(&MINIMAL.replace("severity: critical", "severity: fatal"));
    assert!(message.starts_with("contracts.yaml:10:"), "{message}");
    assert!(message.contains("contracts[0].severity"), "{message}");
    assert!(message.contains("fatal"), "{message}");
}

#[test]
fn unknown_span_kind_in_scope_is_refused() {
    let message = invalid(&MINIMAL.replace("kind: session", "kind: sesion"));
    assert!(message.contains("contracts[0].scope"), "{message}");
    assert!(message.contains("unknown span kind `sesion`"), "{message}");
}

#[test]
fn unknown_attribute_in_measure_is_refused() {
    let message = invalid(&MINIMAL.replace(
        "measure: duration",
        "measure: { attribute: ironforge.memory.peek }",
    ));
    assert!(message.contains("contracts.yaml:6"), "{message}");
    assert!(message.contains("contracts[0].measure"), "{message}");
    assert!(
        message.contains("`ironforge.memory.peek` is not an IRONFORGE attribute"),
        "{message}"
    );
}

#[test]
fn a_declared_attribute_can_be_measured() {
    let text = MINIMAL
        .replace(
            "measure: duration",
            "measure: { attribute: ironforge.tgat.loss }",
        )
        .replace(
            "contracts:\n",
            "attributes:\n  ironforge.tgat.loss: double\ncontracts:\n",
        );
    let file = ContractFile::parse(&text, "contracts.yaml").unwrap();
    assert_eq!(
        file.attributes
            .get("ironforge.tgat.loss")
            .map(|ty| ty.as_str()),
        Some("double")
    );
}

#[test]
fn an_attribute_of_the_wrong_type_for_its_measure_is_refused() {
    let message = invalid(
        &MINIMAL
            .replace("measure: duration", "measure: { attribute: team.label }")
            .replace(
                "contracts:\n",
                "attributes:\n  team.label: string\ncontracts:\n",
            ),
    );
    assert!(message.contains("contracts[0].measure"), "{message}");
    assert!(
        message.contains("`team.label` is declared string; this measure reads int or double"),
        "{message}"
    );
}

#[test]
fn a_convention_attribute_cannot_change_type() {
    let message = invalid(&MINIMAL.replace(
        "contracts:\n",
        "attributes:\n  ironforge.graph.node_feature_dim: string\ncontracts:\n",
    ));
    assert!(message.contains("contracts.yaml:3"), "{message}");
    assert!(
        message.contains("attributes.ironforge.graph.node_feature_dim"),
        "{message}"
    );
    assert!(message.contains("of type int"), "{message}");
}

#[test]
fn duplicate_ids_name_the_second_one() {
    let contract = &MINIMAL["version: 1\ncontracts:\n".len()..];
    let message = invalid(&format!("{MINIMAL}{contract}"));
    assert_eq!(
        message,
        "contracts.yaml:12: field `contracts[1].id`: duplicate contract id `session_duration`"
    );
}

#[test]
fn set_rule_without_members_is_refused() {
    let text = MINIMAL.replace(
        "measure: duration",
        "measure: { values_outside: { attribute: ironforge.graph.event_types, allowed: [] } }",
    );
    let message = invalid(&text);
    assert_eq!(
        message,
        "contracts.yaml:6: field `contracts[0].measure`: values_outside takes a non-empty `allowed` list and no `required`"
    );
}

#[test]
fn grace_longer_than_idle_timeout_is_refused() {
    let text = MINIMAL.replace(
        "contracts:\n",
        "completion:\n  grace_seconds: 10\n  idle_timeout_seconds: 5\ncontracts:\n",
    );
    let message = invalid(&text);
    assert_eq!(
        message,
        "contracts.yaml:4: field `completion.idle_timeout_seconds`: must be a finite number of seconds greater than grace_seconds"
    );
}

#[test]
fn not_yaml_at_all_is_an_error_not_a_panic() {
    let message = invalid("contracts: [\n  - : :\n");
    assert!(message.starts_with("contracts.yaml:"), "{message}");
}

#[test]
fn missing_file_names_the_path() {
    let err = ContractFile::load(std::path::Path::new("/nonexistent/contracts.yaml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/contracts.yaml: cannot read"),
        "{err}"
    );
}

#[test]
fn json_schema_describes_the_contracts() {
    let schema = serde_json::to_value(ContractFile::json_schema()).unwrap();
    assert_eq!(schema["properties"]["contracts"]["type"], "array");
}
