//! The `lifeboat` binary as a person runs it, without an API: what it says, and the exit
//! code, when the endpoint, the credentials or the arguments are wrong, or nothing listens.
//! (Against the local stack: `tests/e2e/cli.rs`.)

use std::net::TcpListener;
use std::process::{Command, Output};

/// Runs `lifeboat` with `args` in an environment without any AWS configuration: no
/// credentials, no profile files, no instance metadata.
fn lifeboat(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join(format!("lifeboat-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    command.args(args).env_clear().env("HOME", &home);
    command
        .env("AWS_CONFIG_FILE", home.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"));
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("lifeboat runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn without_credentials_it_says_how_to_get_them() {
    let out = lifeboat(
        &["requests", "show", "rr-1"],
        &[(
            "LIFEBOAT_API_URL",
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        )],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("no AWS credentials found"), "{text}");
    assert!(text.contains("aws sso login"), "{text}");
}

#[test]
fn without_an_endpoint_it_names_the_flag_and_the_variable() {
    let out = lifeboat(&["points", "acme"], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--endpoint URL or set LIFEBOAT_API_URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_refused_connection_names_the_endpoint() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let out = lifeboat(
        &[
            "requests",
            "list",
            "--instance",
            "acme",
            "--endpoint",
            &endpoint,
            "--local-principal",
            "arn:aws:iam::1:user/sam",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains(&format!("cannot reach {endpoint}")), "{text}");
    assert!(text.contains("connection refused"), "{text}");
}

#[test]
fn the_local_principal_is_refused_off_loopback_in_one_plain_sentence() {
    let out = lifeboat(
        &[
            "requests",
            "list",
            "--instance",
            "acme",
            "--endpoint",
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
            "--local-principal",
            "arn:aws:iam::1:user/sam",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("is for the local stack, on this machine; https://abc.execute-api"),
        "{text}"
    );
    assert!(!text.contains("  "), "a run of spaces in the message: {text:?}");
}

#[test]
fn bad_arguments_exit_2_before_any_call() {
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("LIFEBOAT_API_URL", endpoint.as_str()),
        ("LIFEBOAT_LOCAL_PRINCIPAL", "arn:aws:iam::1:user/erin"),
    ];
    let bad_point = lifeboat(
        &[
            "requests", "approve", "rr-1", "--mode", "rollback", "--reason", "r", "--point", "rds:db",
        ],
        &env,
    );
    assert_eq!(bad_point.status.code(), Some(2));
    assert!(
        stderr(&bad_point).contains("RESOURCE=snapshot:SLOT"),
        "{}",
        stderr(&bad_point)
    );
    let missing_file = lifeboat(
        &["requests", "file", "--from-file", "/nonexistent/request.json"],
        &env,
    );
    assert_eq!(missing_file.status.code(), Some(2));
    assert!(
        stderr(&missing_file).contains("/nonexistent/request.json"),
        "{}",
        stderr(&missing_file)
    );
}

#[test]
fn help_lists_the_exit_codes() {
    let out = lifeboat(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Exit codes:") && text.contains("3  the API refused the call"),
        "{text}"
    );
}

/// Answers one HTTP request on a loopback port with `{"restore_requests": []}`; the request's
/// head, lower-cased, once answered.
fn one_answer() -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        let body = r#"{"restore_requests":[]}"#;
        write!(
            reader.get_mut(),
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    (url, server)
}

#[test]
fn with_credentials_from_the_environment_calls_are_signed_for_execute_api() {
    let (endpoint, server) = one_answer();
    let out = lifeboat(
        &[
            "requests",
            "list",
            "--instance",
            "acme",
            "--region",
            "eu-central-1",
        ],
        &[
            ("LIFEBOAT_API_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session-token"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No requests.\n");
    let head = server.join().unwrap();
    assert!(
        head.starts_with("get /restore-requests?instance_id=acme "),
        "{head}"
    );
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert!(
        head.contains(&format!(
            "authorization: aws4-hmac-sha256 credential=akidtest/{today}/eu-central-1/execute-api/aws4_request"
        )),
        "{head}"
    );
    assert!(head.contains("x-amz-security-token: session-token"), "{head}");
    assert!(head.contains("x-amz-date: "), "{head}");
    assert!(!head.contains("x-lifeboat-principal"), "{head}");
}
