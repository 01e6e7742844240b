//! Unit tests of privacy settings and salt handling.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;

fn parse(toml_text: &str) -> PrivacyConfig {
    toml::from_str(toml_text).expect("privacy section parses whatever the mode value")
}

#[test]
fn invalid_modes_fall_back_to_strict_and_are_counted() {
    let bad = [
        r#"mode = "STRICT ""#,
        r#"mode = "off""#,
        r#"mode = """#,
        "mode = 3",
        "mode = 1.5",
        "mode = true",
        "mode = [\"snippets\"]",
        "mode = { snippets = true }",
        "mode = \"Snippets\"\nacknowledge_snippets_expose_prompt_text = true",
    ];
    for text in bad {
        let mut stats = PrivacyStats::default();
        assert_eq!(
            parse(text).resolve(&mut stats),
            PrivacyMode::Strict,
            "{text}"
        );
        assert_eq!(stats.invalid_mode_fallbacks, 1, "{text}");
    }
    let cfg: PrivacyConfig = serde_json::from_str(r#"{"mode": null}"#).expect("lenient");
    assert!(matches!(cfg.mode, ModeSetting::Invalid(_)));
}

#[test]
fn snippets_need_the_boolean_acknowledgement() {
    let mut stats = PrivacyStats::default();
    assert_eq!(
        parse(r#"mode = "snippets""#).resolve(&mut stats),
        PrivacyMode::Strict
    );
    assert_eq!(stats.snippets_not_acknowledged, 1);
    let text = "mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = \"true\"";
    assert_eq!(parse(text).resolve(&mut stats), PrivacyMode::Strict);
    assert_eq!(stats.invalid_ack_values, 1);
    let text = "mode = \"snippets\"\nacknowledge_snippets_expose_prompt_text = true";
    assert_eq!(parse(text).resolve(&mut stats), PrivacyMode::Snippets);
    assert_eq!(parse("").resolve(&mut stats), PrivacyMode::Strict);
    assert_eq!(stats.invalid_mode_fallbacks, 0);
}

#[test]
fn warnings_never_echo_the_value() {
    let cfg = parse(r#"mode = "sk-ant-secretvalue""#);
    let (_, warnings) = cfg.validate();
    let text = warnings.iter().map(ToString::to_string).collect::<String>();
    assert!(
        !text.contains("secretvalue") && text.contains("length 18"),
        "{text}"
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llmtap-privacy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn salt_file_is_created_0600_and_reused() {
    let dir = temp_dir("state");
    let (a, src) = load_salt_from(None, None, &dir).expect("generated");
    assert!(matches!(src, SaltSource::StateGenerated(_)));
    let path = dir.join("salt");
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (b, src) = load_salt_from(None, None, &dir).expect("reused");
    assert!(matches!(src, SaltSource::StateReused(_)));
    assert_eq!(a, b);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (c, _) = load_salt_from(None, None, &dir).expect("reused");
    assert_eq!(a, c);
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(&path, b"short").expect("write");
    assert!(matches!(
        load_salt_from(None, None, &dir),
        Err(SaltError::Corrupt { len: 5, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn operator_salts_hex_base64_file() {
    let dir = temp_dir("op");
    let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let (h, src) = load_salt_from(Some(hex), None, &dir).expect("hex");
    assert_eq!(src, SaltSource::Env);
    let b64 = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
    let (b, _) = load_salt_from(Some(b64), None, &dir).expect("base64");
    assert_eq!(h, b);
    assert!(matches!(
        load_salt_from(Some("abcd"), None, &dir),
        Err(SaltError::TooShort { len: 2 })
    ));
    assert!(matches!(
        load_salt_from(Some("not a salt!"), None, &dir),
        Err(SaltError::Undecodable)
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("secret");
    std::fs::write(&file, format!("{hex}\n")).expect("write");
    let (f, src) = load_salt_from(Some("  "), Some(&file), &dir).expect("file");
    assert_eq!(src, SaltSource::File(file.clone()));
    assert_eq!(f, h);
    std::fs::write(&file, [7u8; 20]).expect("write raw");
    assert!(load_salt_from(None, Some(&file), &dir).is_ok());
    assert!(
        !dir.join("salt").exists(),
        "operator salt never writes a state salt"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn salt_debug_is_redacted() {
    let s = Salt::from_bytes(vec![0xab; 32]).expect("salt");
    assert_eq!(format!("{s:?}"), "Salt(<redacted>)");
    let p = Privacy::new(PrivacyMode::Strict, s);
    let dbg = format!("{p:?}");
    assert!(!dbg.contains("171") && !dbg.contains("ab, ab"), "{dbg}");
}
