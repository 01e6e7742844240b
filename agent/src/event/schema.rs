//! Validation of events against `schema/llm-event.v1.schema.json` (tests and the
//! `schema-validation` feature only), plus a check that the producer emits no undocumented
//! top-level field.

use std::sync::LazyLock;

use serde_json::Value;

/// The JSON Schema of `schema_version` 1.
pub const SCHEMA_V1: &str = include_str!("../../../schema/llm-event.v1.schema.json");

static VALIDATOR: LazyLock<Result<(jsonschema::Validator, Value), String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA_V1).map_err(|e| e.to_string())?;
    let v = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| e.to_string())?;
    Ok((v, schema))
});

/// Validate one event (parsed JSON) against the v1 schema. Also rejects top-level keys the
/// schema does not declare: consumers must ignore unknown fields, but our producer documents
/// every field it emits.
pub fn validate_event(event: &Value) -> Result<(), Vec<String>> {
    let (validator, schema) = VALIDATOR.as_ref().map_err(|e| vec![e.clone()])?;
    let mut errors: Vec<String> = validator
        .iter_errors(event)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if let (Some(obj), Some(props)) = (
        event.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for k in obj.keys().filter(|k| !props.contains_key(*k)) {
            errors.push(format!("undocumented field {k:?}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Validate every line of an NDJSON buffer.
pub fn validate_ndjson(buf: &[u8]) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => {
                if let Err(e) = validate_event(&v) {
                    errors.extend(e.into_iter().map(|e| format!("line {}: {e}", i + 1)));
                }
            }
            Err(e) => errors.push(format!("line {}: not JSON: {e}", i + 1)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
