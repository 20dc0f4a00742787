//! Review finding 12: the OpenAPI document must say exactly what the server
//! does. Each test reads the document a real server serves and checks it
//! against that server's answers over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use serde_json::{Value, json};

const WRITE: &[&str] = &["Heroes.Write"];

/// The operation `method path` of `doc`.
fn operation<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not in the document");
    op
}

/// The parameter `name` of an operation.
fn parameter<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .and_then(|params| params.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no parameter {name}: {op}"))
}

/// `limit` has a default, so it is optional (and so is `after`), and a list
/// without it is answered with the default page size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_12_limit_is_optional_with_its_default() {
    let h = Harness::start(Backend::Sqlite).await.unwrap();
    let doc = h.get("/openapi.json", None).await.json;
    for path in ["/heroes", "/todoitems"] {
        let op = operation(&doc, path, "get");
        let limit = parameter(op, "limit");
        assert_eq!(limit["in"], "query", "{limit}");
        assert_ne!(
            limit["required"], true,
            "GET {path}: limit is optional: {limit}"
        );
        assert_eq!(limit["schema"]["default"], 20, "{limit}");
        assert_eq!(limit["schema"]["minimum"], 1, "{limit}");
        assert_eq!(limit["schema"]["maximum"], 100, "{limit}");
        let after = parameter(op, "after");
        assert_ne!(
            after["required"], true,
            "GET {path}: after is optional: {after}"
        );
        assert_eq!(after["schema"]["minimum"], 0, "{after}");
        assert_eq!(after["schema"]["maximum"], i64::MAX, "{after}");
    }

    // Without `limit`: the default page of 20.
    for i in 0..21 {
        h.create_hero(&format!("hero {i}")).await;
        h.create_todo(Who::Alice(WRITE), &format!("item {i}")).await;
    }
    let daemon = h.token(Who::Daemon);
    let alice = h.token(Who::Alice(WRITE));
    for (path, token) in [("/heroes", &daemon), ("/todoitems", &alice)] {
        let reply = h.get(path, Some(token)).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
        assert_eq!(reply.json["items"].as_array().unwrap().len(), 20, "{path}");
        assert!(reply.json["next_after"].is_i64(), "{path}: {}", reply.text);
    }
    h.stop().await;
}

/// Whether `value` satisfies the string schema `schema` (`pattern`,
/// `minLength`, `maxLength`, counted in characters as JSON Schema counts).
fn document_accepts(schema: &Value, value: &str) -> bool {
    let pattern = schema["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("no pattern: {schema}"));
    let regex = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let length = value.chars().count() as u64;
    regex.is_match(value)
        && schema["minLength"].as_u64().is_none_or(|min| length >= min)
        && schema["maxLength"].as_u64().is_none_or(|max| length <= max)
}

/// Strings the server must judge as its document says: control characters
/// anywhere (even the whitespace ones at either end), blank values, other
/// Unicode whitespace, non-ASCII text, values at and past the length limit.
fn samples(max: usize) -> Vec<String> {
    let mut samples: Vec<String> = [
        "Deadpond",
        "Dive Wilson",
        "  Deadpond  ",
        "",
        " ",
        "   ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{3000}",
        "\u{2028}",
        "\u{a0}x\u{a0}",
        "\u{3000}Deadpond",
        "a\u{0}b",
        "a\nb",
        "abc\n",
        "\tabc",
        "abc\r",
        "x\u{1b}[31m",
        "x\u{7f}",
        "x\u{85}",
        "x\u{9f}",
        "\u{feff}",
        "\u{200b}",
        "Ünïcödé",
        "日本語",
        "😀",
        "e\u{301}",
        "\u{10ffff}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    samples.extend([
        "x".repeat(max),
        "x".repeat(max + 1),
        "é".repeat(max),
        "é".repeat(max + 1),
        "😀".repeat(max),
        "😀".repeat(max + 1),
        format!(" {}", "x".repeat(max - 1)),
        format!(" {}", "x".repeat(max)),
        format!("{} ", "x".repeat(max)),
        " ".repeat(max + 1),
    ]);
    samples
}

/// The body of a request with this value in the field under test.
type BodyWith = fn(&str) -> Value;

/// Every string the server validates carries a `pattern` (with its length
/// limits): the document accepts a value exactly when the server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_12_string_patterns_say_what_the_server_refuses() {
    let h = Harness::start(Backend::Sqlite).await.unwrap();
    let doc = h.get("/openapi.json", None).await.json;
    let schemas = &doc["components"]["schemas"];
    let writer = h.token(Who::Alice(WRITE));
    let cases: [(&str, &str, &str, BodyWith); 3] = [
        (
            "NewHero",
            "name",
            "/heroes",
            |s| json!({"name": s, "secret_name": "Dive Wilson"}),
        ),
        (
            "NewHero",
            "secret_name",
            "/heroes",
            |s| json!({"name": "Deadpond", "secret_name": s}),
        ),
        (
            "NewTodoItem",
            "title",
            "/todoitems",
            |s| json!({ "title": s }),
        ),
    ];
    let mut disagreements = Vec::new();
    for (schema_name, field, path, body) in cases {
        let schema = &schemas[schema_name]["properties"][field];
        let max = schema["maxLength"]
            .as_u64()
            .unwrap_or_else(|| panic!("{schema_name}.{field} has no maxLength: {schema}"));
        for sample in samples(max as usize) {
            let documented = document_accepts(schema, &sample);
            let reply = h.post(path, Some(&writer), &body(&sample)).await;
            let accepted = match reply.status {
                201 => true,
                422 => {
                    assert_eq!(reply.fields(), [field], "{sample:?}: {}", reply.text);
                    false
                }
                other => panic!("{schema_name}.{field} {sample:?}: {other} {}", reply.text),
            };
            if documented != accepted {
                disagreements.push(format!(
                    "{schema_name}.{field} {sample:?}: document {}, server {}",
                    if documented { "accepts" } else { "refuses" },
                    if accepted { "accepts" } else { "refuses" },
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    h.stop().await;
}

/// The other constraints: integer ranges, path ids, required bodies, unknown
/// fields refused, and every answer an operation can give, with its type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_12_document_states_every_other_constraint() {
    let h = Harness::start(Backend::Sqlite).await.unwrap();
    let doc = h.get("/openapi.json", None).await.json;
    let schemas = &doc["components"]["schemas"];

    // Bodies: required, JSON objects, unknown fields refused.
    for (path, schema, required) in [
        ("/heroes", "NewHero", json!(["name", "secret_name"])),
        ("/todoitems", "NewTodoItem", json!(["title"])),
    ] {
        let body = &operation(&doc, path, "post")["requestBody"];
        assert_eq!(body["required"], true, "POST {path}: {body}");
        assert!(
            body["content"]["application/json"].is_object(),
            "POST {path}: {body}"
        );
        let schema = &schemas[schema];
        assert_eq!(schema["type"], "object", "{schema}");
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(schema["required"], required, "{schema}");
    }
    let age = &schemas["NewHero"]["properties"]["age"];
    assert_eq!(age["minimum"], 0, "{age}");
    assert_eq!(age["maximum"], 10_000, "{age}");

    // Path ids: positive 64-bit integers.
    for path in ["/heroes/{id}", "/todoitems/{id}"] {
        for method in ["get", "delete"] {
            let id = parameter(operation(&doc, path, method), "id");
            assert_eq!(id["required"], true, "{id}");
            assert_eq!(id["schema"]["type"], "integer", "{id}");
            assert_eq!(id["schema"]["format"], "int64", "{id}");
            assert_eq!(id["schema"]["minimum"], 1, "{id}");
            assert_eq!(id["schema"]["maximum"], i64::MAX, "{id}");
        }
    }

    // Problems: `errors` only when there are some.
    let problem = &schemas["Problem"];
    let required: Vec<&str> = problem["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!required.contains(&"errors"), "{problem}");

    // Every answer each protected operation can give, and its type.
    let problem_ref = json!({"$ref": "#/components/schemas/Problem"});
    let answers: [(&str, &str, &[&str]); 9] = [
        (
            "/heroes",
            "post",
            &[
                "201", "400", "401", "403", "413", "415", "422", "431", "503",
            ],
        ),
        (
            "/heroes",
            "get",
            &["200", "400", "401", "403", "431", "503"],
        ),
        (
            "/heroes/{id}",
            "get",
            &["200", "400", "401", "403", "404", "431", "503"],
        ),
        (
            "/heroes/{id}",
            "delete",
            &["204", "400", "401", "403", "404", "431", "503"],
        ),
        (
            "/todoitems",
            "get",
            &["200", "400", "401", "403", "431", "503"],
        ),
        (
            "/todoitems",
            "post",
            &[
                "201", "400", "401", "403", "413", "415", "422", "431", "503",
            ],
        ),
        (
            "/todoitems",
            "delete",
            &["204", "400", "401", "403", "431", "503"],
        ),
        (
            "/todoitems/{id}",
            "get",
            &["200", "400", "401", "403", "404", "431", "503"],
        ),
        (
            "/todoitems/{id}",
            "delete",
            &["204", "400", "401", "403", "404", "431", "503"],
        ),
    ];
    for (path, method, statuses) in answers {
        let responses = operation(&doc, path, method)["responses"]
            .as_object()
            .unwrap();
        let mut documented: Vec<&str> = responses.keys().map(String::as_str).collect();
        documented.sort_unstable();
        assert_eq!(documented, statuses, "{method} {path}");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"], problem_ref,
                    "{method} {path} {status}: {response}"
                );
            }
        }
    }

    // The answers the document promises are the server's: a token sent
    // twice is a 400 problem, a huge one a 431, on any protected route.
    let alice = h.token(Who::Alice(WRITE));
    let reply = h
        .delete("/todoitems?access_token=a&access_token=b", Some(&alice))
        .await;
    reply.assert_problem(400);
    let huge = "a".repeat(20_000);
    let reply = h.get("/todoitems", Some(&huge)).await;
    reply.assert_problem(431);
    h.stop().await;
}

/// `age` is a JSON Schema `integer`: any number without a fractional part,
/// `30.0` and `3e1` included, as schemathesis found (`ST202`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_12_whole_numbers_are_integers() {
    let h = Harness::start(Backend::Sqlite).await.unwrap();
    let writer = h.token(Who::Alice(WRITE));
    let with_age = |age: &str| {
        serde_json::from_str::<Value>(&format!(
            r#"{{"name": "Deadpond", "secret_name": "Dive Wilson", "age": {age}}}"#
        ))
        .unwrap()
    };
    for (age, stored) in [
        ("30", 30),
        ("30.0", 30),
        ("3e1", 30),
        ("0.0", 0),
        ("-0.0", 0),
        ("1e4", 10_000),
    ] {
        let reply = h.post("/heroes", Some(&writer), &with_age(age)).await;
        assert_eq!(reply.status, 201, "age {age}: {}", reply.text);
        assert_eq!(reply.json["age"], stored, "age {age}: {}", reply.text);
    }
    for age in [
        "30.5",
        "-1",
        "-1.0",
        "10001",
        "1e5",
        "1e300",
        "18446744073709551616",
        "\"30\"",
        "true",
    ] {
        let reply = h.post("/heroes", Some(&writer), &with_age(age)).await;
        reply.assert_problem(422);
        assert_eq!(reply.fields(), ["age"], "age {age}: {}", reply.text);
    }
    h.stop().await;
}
