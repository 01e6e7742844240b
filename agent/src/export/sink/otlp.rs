//! OTLP/HTTP logs encoding: one `LogRecord` per event, the event JSON as the string body and
//! `event_type` as an attribute, wrapped in an `ExportLogsServiceRequest` (protobuf). Owns the
//! encoding only; the HTTP request is `sink::http`'s.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::export::event::EncodedEvent;

/// OTLP severity number for INFO.
const SEVERITY_INFO: i32 = 9;

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// Build the request for `batch`, observed at `now`.
pub fn request(batch: &[EncodedEvent], now: SystemTime) -> ExportLogsServiceRequest {
    let nanos = now
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let log_records = batch
        .iter()
        .map(|ev| LogRecord {
            time_unix_nano: nanos,
            observed_time_unix_nano: nanos,
            severity_number: SEVERITY_INFO,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(
                    String::from_utf8_lossy(ev.body()).into_owned(),
                )),
            }),
            attributes: vec![string_kv("event_type", &ev.event_type)],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", "llmtap")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "llmtap".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Protobuf bytes of [`request`].
pub fn encode(batch: &[EncodedEvent], now: SystemTime) -> Vec<u8> {
    request(batch, now).encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_event_roundtrips() {
        let batch = vec![
            EncodedEvent::new(&b"{\"a\":1}\n"[..], "llm_call"),
            EncodedEvent::new(&b"{\"b\":2}\n"[..], "llm_call"),
        ];
        let bytes = encode(&batch, SystemTime::now());
        let back = ExportLogsServiceRequest::decode(bytes.as_slice()).expect("decodes");
        let recs = &back.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(recs.len(), 2);
        let body = recs[0].body.as_ref().and_then(|b| b.value.as_ref());
        assert_eq!(
            body,
            Some(&any_value::Value::StringValue("{\"a\":1}".into()))
        );
        assert_eq!(recs[1].attributes[0].key, "event_type");
    }
}
