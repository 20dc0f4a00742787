//! The whole API over real HTTP, with tokens from an in-process emulator, on
//! SQLite and on PostgreSQL: every endpoint with no token, a bad token, the
//! wrong scope, the right scope, an app-only token, someone else's item and
//! an admin; input errors; pagination; readiness; the OpenAPI document and
//! Swagger UI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    who_may_call_what,
    heroes_are_created_read_listed_and_deleted,
    a_daemon_creates_heroes_as_itself,
    heroes_are_paged_in_a_stable_order,
    invalid_heroes_are_refused_and_change_nothing,
    todo_items_belong_to_their_owner,
    only_an_admin_deletes_every_todo_item,
    invalid_todo_items_are_refused_and_change_nothing,
    index_health_and_unknown_routes,
    openapi_document_and_swagger_ui,
);

/// Who calls, in the authorization matrix.
#[derive(Debug, Clone, Copy)]
enum Caller {
    NoToken,
    Tampered,
    Expired,
    /// A valid token for another API (wrong audience).
    OtherAudience,
    As(Who),
}

const READ: &[&str] = &["Heroes.Read"];
const WRITE: &[&str] = &["Heroes.Write"];
const DELETE: &[&str] = &["Heroes.Delete"];

fn alice(scopes: &'static [&'static str]) -> Caller {
    Caller::As(Who::Alice(scopes))
}

fn bob(scopes: &'static [&'static str]) -> Caller {
    Caller::As(Who::Bob(scopes))
}

const DAEMON_APP: Caller = Caller::As(Who::Daemon);

/// The authorization matrix: each endpoint with no token, a bad token, the
/// wrong scope, the right scope, an app-only token, someone else's item and
/// an admin. Rows run in order (some delete what later rows look for);
/// `{h1}`... name the heroes and items made first.
async fn who_may_call_what(h: &Harness) {
    use Caller::*;
    let ids = [
        ("{h1}", h.create_hero("Spider-Boy").await),
        ("{h2}", h.create_hero("Rusty-Man").await),
        ("{h3}", h.create_hero("Tarantula").await),
        (
            "{alices}",
            h.create_todo(Who::Alice(READ), "alice's item").await,
        ),
        (
            "{alices_2}",
            h.create_todo(Who::Alice(READ), "alice's second").await,
        ),
        ("{bobs}", h.create_todo(Who::Bob(READ), "bob's item").await),
        (
            "{bobs_2}",
            h.create_todo(Who::Bob(READ), "bob's second").await,
        ),
    ];

    let mut rows: Vec<(&str, Caller, u16)> = Vec::new();
    for bad in [NoToken, Tampered, Expired, OtherAudience] {
        for route in [
            "POST /heroes",
            "GET /heroes",
            "GET /heroes/{h1}",
            "DELETE /heroes/{h1}",
            "GET /todoitems",
            "POST /todoitems",
            "DELETE /todoitems",
            "GET /todoitems/{bobs}",
            "DELETE /todoitems/{bobs}",
        ] {
            rows.push((route, bad, 401));
        }
    }
    rows.extend([
        // Heroes: the delegated scope or the application permission of the
        // same name; no other scope stands in for it.
        ("POST /heroes", alice(READ), 403),
        ("POST /heroes", bob(DELETE), 403),
        ("GET /heroes", alice(WRITE), 403),
        ("GET /heroes/{h1}", bob(DELETE), 403),
        ("DELETE /heroes/{h1}", alice(READ), 403),
        ("DELETE /heroes/{h1}", bob(WRITE), 403),
        // The right scope, for any user (heroes have no owner).
        ("POST /heroes", bob(WRITE), 201),
        ("GET /heroes", bob(READ), 200),
        ("GET /heroes/{h1}", bob(READ), 200),
        ("DELETE /heroes/{h1}", bob(DELETE), 204),
        ("GET /heroes/{h3}", alice(READ), 200),
        // App-only: the daemon's application permissions.
        ("POST /heroes", DAEMON_APP, 201),
        ("GET /heroes", DAEMON_APP, 200),
        ("GET /heroes/{h2}", DAEMON_APP, 200),
        ("DELETE /heroes/{h2}", DAEMON_APP, 204),
        ("DELETE /heroes/{h2}", DAEMON_APP, 404),
        // Todo items: an app-only token has no user to own items.
        ("GET /todoitems", DAEMON_APP, 403),
        ("POST /todoitems", DAEMON_APP, 403),
        ("DELETE /todoitems", DAEMON_APP, 403),
        ("GET /todoitems/{bobs}", DAEMON_APP, 403),
        ("DELETE /todoitems/{bobs}", DAEMON_APP, 403),
        // Any signed-in user, whatever the scope; deleting all needs Admin.
        ("GET /todoitems", bob(WRITE), 200),
        ("POST /todoitems", bob(DELETE), 201),
        ("DELETE /todoitems", bob(READ), 403),
        // Someone else's item: 403; the owner's own: fine; an admin: anyone's.
        ("GET /todoitems/{alices}", bob(READ), 403),
        ("DELETE /todoitems/{alices}", bob(READ), 403),
        ("GET /todoitems/{bobs}", bob(READ), 200),
        ("GET /todoitems/{bobs}", alice(READ), 200),
        ("DELETE /todoitems/{bobs}", alice(READ), 204),
        ("GET /todoitems/{bobs}", bob(READ), 404),
        ("DELETE /todoitems/{bobs_2}", bob(READ), 204),
        ("GET /todoitems/{alices_2}", alice(READ), 200),
        ("DELETE /todoitems", alice(READ), 204),
        ("GET /todoitems/{alices}", alice(READ), 404),
    ]);

    for (route, caller, status) in rows {
        let (method, path) = route.split_once(' ').unwrap();
        let path = ids.iter().fold(path.to_owned(), |p, (name, id)| {
            p.replace(name, &id.to_string())
        });
        let body = match route {
            "POST /heroes" => Some(json!({"name": "Deadpond", "secret_name": "Dive Wilson"})),
            "POST /todoitems" => Some(json!({"title": "Walk the dog"})),
            _ => None,
        };
        let token = match caller {
            NoToken => None,
            Tampered => Some(h.tampered_token()),
            Expired => Some(h.expired_token()),
            OtherAudience => Some(h.token_for_another_api()),
            As(who) => Some(h.token(who)),
        };
        let reply = h
            .send(
                method.parse().unwrap(),
                &path,
                token.as_deref(),
                body.map(|b| ("application/json", b.to_string().into_bytes())),
            )
            .await;
        let what = format!("{method} {path} as {caller:?} on {:?}", h.backend);
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_eq!(reply.header("cache-control"), "no-store", "{what}");
        assert_eq!(reply.header("x-content-type-options"), "nosniff", "{what}");
        if status >= 400 {
            reply.assert_problem(status);
        }
        let challenge = reply.header("www-authenticate");
        match (status, caller) {
            (401, NoToken) => assert_eq!(challenge, "Bearer", "{what}"),
            (401, _) => assert!(challenge.contains("invalid_token"), "{what}: {challenge}"),
            // Someone else's item: the token is fine, the item is not theirs.
            (403, As(Who::Alice(_) | Who::Bob(_))) if path.starts_with("/todoitems/") => {
                assert_eq!(challenge, "", "{what}")
            }
            (403, _) => assert!(
                challenge.contains("insufficient_scope"),
                "{what}: {challenge}"
            ),
            _ => {}
        }
    }
}

async fn heroes_are_created_read_listed_and_deleted(h: &Harness) {
    let writer = h.token(Who::Alice(&["Heroes.Write"]));
    let reader = h.token(Who::Bob(&["Heroes.Read"]));
    let deleter = h.token(Who::Bob(&["Heroes.Delete"]));

    let created = h
        .post(
            "/heroes",
            Some(&writer),
            &json!({"name": "  Deadpond ", "secret_name": "Dive Wilson", "age": 30}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_i64().unwrap();
    assert!(id > 0);
    assert_eq!(created.header("location"), format!("/heroes/{id}"));
    assert_eq!(created.json["name"], "Deadpond", "trimmed");
    assert_eq!(created.json["secret_name"], "Dive Wilson");
    assert_eq!(created.json["age"], 30);
    assert_eq!(
        created.json["created_by"],
        json!({"kind": "user", "tenant_id": TENANT, "id": ALICE_OID})
    );
    let created_at = created.json["created_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{created_at}"
    );

    let read = h.get(&format!("/heroes/{id}"), Some(&reader)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json, created.json, "what is read is what was answered");

    // Age is optional.
    let ageless = h
        .post(
            "/heroes",
            Some(&writer),
            &json!({"name": "Spider-Boy", "secret_name": "Pedro Parqueador"}),
        )
        .await;
    assert_eq!(ageless.status, 201, "{}", ageless.text);
    assert_eq!(ageless.json["age"], Value::Null);

    let list = h.get("/heroes", Some(&reader)).await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Deadpond", "Spider-Boy"]);
    assert_eq!(list.json["next_after"], Value::Null);

    let deleted = h.delete(&format!("/heroes/{id}"), Some(&deleter)).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    h.get(&format!("/heroes/{id}"), Some(&reader))
        .await
        .assert_problem(404);
    h.delete(&format!("/heroes/{id}"), Some(&deleter))
        .await
        .assert_problem(404);
    h.get("/heroes/999999", Some(&reader))
        .await
        .assert_problem(404);
    // Ids are never reused.
    let next = h.create_hero("Tarantula").await;
    assert!(next > id + 1, "{next} after {id}");
}

async fn a_daemon_creates_heroes_as_itself(h: &Harness) {
    let daemon = h.token(Who::Daemon);
    let created = h
        .post(
            "/heroes",
            Some(&daemon),
            &json!({"name": "Black Lion", "secret_name": "Trevor Challa", "age": 35}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json["created_by"],
        json!({"kind": "app", "tenant_id": TENANT, "id": DAEMON})
    );
    let id = created.json["id"].as_i64().unwrap();
    let read = h.get(&format!("/heroes/{id}"), Some(&daemon)).await;
    assert_eq!(read.json["created_by"]["kind"], "app");
    let deleted = h.delete(&format!("/heroes/{id}"), Some(&daemon)).await;
    assert_eq!(deleted.status, 204);
}

async fn heroes_are_paged_in_a_stable_order(h: &Harness) {
    let reader = h.token(Who::Alice(&["Heroes.Read"]));
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(h.create_hero(&format!("Hero {n:02}")).await);
    }

    let first = h.get("/heroes", Some(&reader)).await;
    assert_eq!(
        first.json["items"].as_array().unwrap().len(),
        20,
        "default limit"
    );
    assert_eq!(first.json["next_after"], ids[19]);

    let page = |reply: &Reply| -> Vec<i64> {
        reply.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_i64().unwrap())
            .collect()
    };
    let p1 = h.get("/heroes?limit=10", Some(&reader)).await;
    assert_eq!(page(&p1), ids[..10]);
    let after = p1.json["next_after"].as_i64().unwrap();
    assert_eq!(after, ids[9]);

    // Changes between pages neither skip nor repeat anyone: delete one
    // already seen, one not seen yet, and add one.
    let deleter = h.token(Who::Daemon);
    assert_eq!(
        h.delete(&format!("/heroes/{}", ids[3]), Some(&deleter))
            .await
            .status,
        204
    );
    assert_eq!(
        h.delete(&format!("/heroes/{}", ids[15]), Some(&deleter))
            .await
            .status,
        204
    );
    let newest = h.create_hero("Latecomer").await;

    let p2 = h
        .get(&format!("/heroes?limit=10&after={after}"), Some(&reader))
        .await;
    let mut expected: Vec<i64> = ids[10..]
        .iter()
        .copied()
        .filter(|id| *id != ids[15])
        .collect();
    expected.push(newest);
    assert_eq!(page(&p2), expected[..10]);
    let p3 = h
        .get(
            &format!("/heroes?limit=10&after={}", p2.json["next_after"]),
            Some(&reader),
        )
        .await;
    assert_eq!(page(&p3), expected[10..]);
    assert_eq!(p3.json["next_after"], Value::Null, "the last page says so");

    // The same query twice gives the same page.
    let again = h.get("/heroes?limit=10", Some(&reader)).await;
    let again_2 = h.get("/heroes?limit=10", Some(&reader)).await;
    assert_eq!(again.json, again_2.json);

    // Bad parameters: 400 naming each.
    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=101", vec!["limit"]),
        ("limit=ten", vec!["limit"]),
        ("after=-5", vec!["after"]),
        ("after=x&limit=-1", vec!["after", "limit"]),
        ("limit=1&limit=2", vec!["limit"]),
    ] {
        let reply = h.get(&format!("/heroes?{query}"), Some(&reader)).await;
        reply.assert_problem(400);
        assert_eq!(reply.fields(), fields, "{query}: {}", reply.text);
    }
    // Past the end: an empty last page.
    let past = h
        .get(&format!("/heroes?after={}", i64::MAX), Some(&reader))
        .await;
    assert_eq!(past.json, json!({"items": [], "next_after": null}));
}

async fn invalid_heroes_are_refused_and_change_nothing(h: &Harness) {
    let writer = h.token(Who::Alice(&["Heroes.Write", "Heroes.Read"]));
    h.create_hero("The Original").await;
    let before = h.all_heroes().await;

    let long = "x".repeat(101);
    for (body, fields) in [
        (json!({}), vec!["name", "secret_name"]),
        (json!({"secret_name": "s"}), vec!["name"]),
        (json!({"name": "", "secret_name": "s"}), vec!["name"]),
        (
            json!({"name": "   ", "secret_name": "  "}),
            vec!["name", "secret_name"],
        ),
        (json!({"name": long, "secret_name": "s"}), vec!["name"]),
        (
            json!({"name": "n", "secret_name": "s", "age": -1}),
            vec!["age"],
        ),
        (
            json!({"name": "n", "secret_name": "s", "age": 10001}),
            vec!["age"],
        ),
        (
            json!({"name": "", "secret_name": "s", "age": 20000}),
            vec!["name", "age"],
        ),
        (
            json!({"name": "n", "secret_name": "s", "age": "old"}),
            vec!["age"],
        ),
        (
            json!({"name": "n", "secret_name": "s", "age": 3.5}),
            vec!["age"],
        ),
        (
            json!({"name": "n", "secret_name": "s", "age": 99999999999_i64}),
            vec!["age"],
        ),
        (json!({"name": 42, "secret_name": "s"}), vec!["name"]),
        (json!({"name": "n", "secretName": "s"}), vec!["secretName"]),
        (
            json!({"name": "n", "secret_name": "s", "id": 7}),
            vec!["id"],
        ),
        (
            json!({"name": "a\u{0007}b", "secret_name": "s"}),
            vec!["name"],
        ),
        (json!(["name", "secret_name"]), vec!["body"]),
        (json!("Deadpond"), vec!["body"]),
    ] {
        let reply = h.post("/heroes", Some(&writer), &body).await;
        reply.assert_problem(422);
        assert_eq!(reply.fields(), fields, "{body}: {}", reply.text);
    }
    // 100 characters is fine, counted as characters, not bytes.
    let hundred = "é".repeat(100);
    let ok = h
        .post(
            "/heroes",
            Some(&writer),
            &json!({"name": hundred, "secret_name": "s", "age": 10000}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let ok_id = ok.json["id"].as_i64().unwrap();
    assert_eq!(
        h.delete(&format!("/heroes/{ok_id}"), Some(&h.token(Who::Daemon)))
            .await
            .status,
        204
    );

    // Malformed JSON: 400.
    for raw in ["{", "{\"name\": }", "nope", "", "{\"name\":\"a\",}"] {
        let reply = h
            .send(
                Method::POST,
                "/heroes",
                Some(&writer),
                Some(("application/json", raw.as_bytes().to_vec())),
            )
            .await;
        reply.assert_problem(400);
    }
    // Not JSON, or no content type: 415.
    let valid = json!({"name": "n", "secret_name": "s"})
        .to_string()
        .into_bytes();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let reply = h
            .send(
                Method::POST,
                "/heroes",
                Some(&writer),
                Some((content_type, valid.clone())),
            )
            .await;
        reply.assert_problem(415);
    }
    // +json and parameters are JSON.
    let reply = h
        .send(
            Method::POST,
            "/heroes",
            Some(&writer),
            Some(("application/vnd.heroes+json; charset=utf-8", valid.clone())),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let extra_id = reply.json["id"].as_i64().unwrap();
    assert_eq!(
        h.delete(&format!("/heroes/{extra_id}"), Some(&h.token(Who::Daemon)))
            .await
            .status,
        204
    );
    // Too large: 413, before it is parsed.
    let huge = json!({"name": "n", "secret_name": "x".repeat(20 * 1024)}).to_string();
    let reply = h
        .send(
            Method::POST,
            "/heroes",
            Some(&writer),
            Some(("application/json", huge.into_bytes())),
        )
        .await;
    reply.assert_problem(413);
    // Bad ids in the path: 400 naming `id`.
    for path in [
        "/heroes/abc",
        "/heroes/0",
        "/heroes/-3",
        "/heroes/1.5",
        "/heroes/99999999999999999999",
    ] {
        let reply = h.get(path, Some(&writer)).await;
        reply.assert_problem(400);
        assert_eq!(reply.fields(), ["id"], "{path}");
        let reply = h.delete(path, Some(&h.token(Who::Daemon))).await;
        reply.assert_problem(400);
    }

    assert_eq!(
        h.all_heroes().await,
        before,
        "no refused request changed anything"
    );
}

async fn todo_items_belong_to_their_owner(h: &Harness) {
    let alice = h.token(Who::Alice(&["Heroes.Read"]));
    let bob = h.token(Who::Bob(&["Heroes.Read"]));

    let created = h
        .post(
            "/todoitems",
            Some(&bob),
            &json!({"title": " Walk the dog "}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let bobs = created.json["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), format!("/todoitems/{bobs}"));
    assert_eq!(created.json["title"], "Walk the dog");
    assert_eq!(
        created.json["owner"],
        json!({"tenant_id": TENANT, "object_id": BOB_OID})
    );
    let alices = h
        .create_todo(Who::Alice(&["Heroes.Read"]), "Feed the cat")
        .await;
    for n in 0..3 {
        h.create_todo(Who::Bob(&["Heroes.Write"]), &format!("chore {n}"))
            .await;
    }

    // Bob sees his own four; alice, an admin, sees all five.
    let bobs_items = h.all("/todoitems", &bob).await;
    assert_eq!(bobs_items.len(), 4);
    assert!(
        bobs_items
            .iter()
            .all(|i| i["owner"]["object_id"] == BOB_OID)
    );
    let everything = h.all("/todoitems", &alice).await;
    assert_eq!(everything.len(), 5);
    let ids: Vec<i64> = everything
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "in id order");
    // Pages of two.
    let page = h.get("/todoitems?limit=2", Some(&bob)).await;
    assert_eq!(page.json["items"].as_array().unwrap().len(), 2);
    assert!(page.json["next_after"].is_i64());

    // Someone else's item: 403, and it stays.
    let reply = h.get(&format!("/todoitems/{alices}"), Some(&bob)).await;
    reply.assert_problem(403);
    h.delete(&format!("/todoitems/{alices}"), Some(&bob))
        .await
        .assert_problem(403);
    assert_eq!(
        h.get(&format!("/todoitems/{alices}"), Some(&alice))
            .await
            .status,
        200
    );
    // The owner reads it; an admin reads and deletes it.
    let read = h.get(&format!("/todoitems/{bobs}"), Some(&bob)).await;
    assert_eq!(read.json, created.json);
    assert_eq!(
        h.get(&format!("/todoitems/{bobs}"), Some(&alice))
            .await
            .status,
        200
    );
    assert_eq!(
        h.delete(&format!("/todoitems/{bobs}"), Some(&alice))
            .await
            .status,
        204
    );
    // Gone: 404 for everyone, even for the admin.
    h.get(&format!("/todoitems/{bobs}"), Some(&bob))
        .await
        .assert_problem(404);
    h.delete(&format!("/todoitems/{bobs}"), Some(&alice))
        .await
        .assert_problem(404);
    h.get("/todoitems/424242", Some(&bob))
        .await
        .assert_problem(404);
    // The owner deletes their own.
    assert_eq!(
        h.delete(&format!("/todoitems/{alices}"), Some(&alice))
            .await
            .status,
        204
    );
    assert_eq!(h.all("/todoitems", &bob).await.len(), 3);
    // Bad ids: 400.
    h.get("/todoitems/x", Some(&bob)).await.assert_problem(400);
}

async fn only_an_admin_deletes_every_todo_item(h: &Harness) {
    let alice = h.token(Who::Alice(&["Heroes.Read"]));
    let bob = h.token(Who::Bob(&["Heroes.Read"]));
    h.create_todo(Who::Alice(&["Heroes.Read"]), "one").await;
    h.create_todo(Who::Bob(&["Heroes.Read"]), "two").await;

    let refused = h.delete("/todoitems", Some(&bob)).await;
    refused.assert_problem(403);
    assert!(
        refused
            .header("www-authenticate")
            .contains("insufficient_scope")
    );
    assert!(refused.header("www-authenticate").contains("Admin"));
    // An app role is not a scope (RFC 6750 §3); the body names it.
    assert!(!refused.header("www-authenticate").contains("scope="));
    assert!(
        refused.text.contains("\"missing\":\"app role Admin\""),
        "{}",
        refused.text
    );
    h.delete("/todoitems", Some(&h.token(Who::Daemon)))
        .await
        .assert_problem(403);
    assert_eq!(
        h.all("/todoitems", &alice).await.len(),
        2,
        "nothing deleted"
    );

    assert_eq!(h.delete("/todoitems", Some(&alice)).await.status, 204);
    assert!(h.all("/todoitems", &alice).await.is_empty());
    // Again, on nothing: still fine.
    assert_eq!(h.delete("/todoitems", Some(&alice)).await.status, 204);
}

async fn invalid_todo_items_are_refused_and_change_nothing(h: &Harness) {
    let bob = h.token(Who::Bob(&["Heroes.Read"]));
    h.create_todo(Who::Bob(&["Heroes.Read"]), "keep me").await;
    let before = h.all("/todoitems", &bob).await;

    for (body, fields) in [
        (json!({}), vec!["title"]),
        (json!({"title": " "}), vec!["title"]),
        (json!({"title": "x".repeat(201)}), vec!["title"]),
        (json!({"title": ["a"]}), vec!["title"]),
        (
            json!({"title": "t", "owner": "someone-else"}),
            vec!["owner"],
        ),
    ] {
        let reply = h.post("/todoitems", Some(&bob), &body).await;
        reply.assert_problem(422);
        assert_eq!(reply.fields(), fields, "{body}");
    }
    h.send(
        Method::POST,
        "/todoitems",
        Some(&bob),
        Some(("application/json", b"{\"title\":".to_vec())),
    )
    .await
    .assert_problem(400);
    h.send(
        Method::POST,
        "/todoitems",
        Some(&bob),
        Some(("text/plain", b"Walk the dog".to_vec())),
    )
    .await
    .assert_problem(415);
    h.send(
        Method::POST,
        "/todoitems",
        Some(&bob),
        Some(("application/json", vec![b' '; 17 * 1024])),
    )
    .await
    .assert_problem(413);
    h.get("/todoitems?limit=0", Some(&bob))
        .await
        .assert_problem(400);

    assert_eq!(h.all("/todoitems", &bob).await, before);
}

async fn index_health_and_unknown_routes(h: &Harness) {
    let index = h.get("/", None).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").starts_with("text/html"));
    for link in ["/docs/", "/openapi.json", "/health"] {
        assert!(index.text.contains(link), "{link}");
    }

    let health = h.get("/health", None).await;
    assert_eq!(health.status, 200, "{}", health.text);
    let backend = match h.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(
        health.json,
        json!({"status": "ready", "signing_keys": "loaded", "database": "reachable", "backend": backend})
    );
    assert_eq!(health.header("cache-control"), "no-store");

    h.get("/nothing-here", None).await.assert_problem(404);
    h.send(Method::PUT, "/heroes", None, None)
        .await
        .assert_problem(405);
    h.send(Method::PATCH, "/todoitems/1", None, None)
        .await
        .assert_problem(405);
}

async fn openapi_document_and_swagger_ui(h: &Harness) {
    let reply = h.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    let doc = &reply.json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "Heroes API");
    // Written for its readers: no development vocabulary.
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(!description.contains("seed"), "{description}");

    // The security scheme: authorization code against the configured tenant.
    let scheme = &doc["components"]["securitySchemes"]["entra"];
    assert_eq!(scheme["type"], "oauth2");
    let flow = &scheme["flows"]["authorizationCode"];
    let authority = format!("{}/{TENANT}/oauth2/v2.0", h.emulator.http_url());
    assert_eq!(flow["authorizationUrl"], format!("{authority}/authorize"));
    assert_eq!(flow["tokenUrl"], format!("{authority}/token"));
    for scope in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] {
        assert!(
            flow["scopes"][format!("{API_URI}/{scope}")].is_string(),
            "{scope}: {flow}"
        );
    }

    // Each operation names the scope it needs, fully qualified.
    let security = |path: &str, method: &str| doc["paths"][path][method]["security"].clone();
    let requires = |scope: &str| json!([{ "entra": [format!("{API_URI}/{scope}")] }]);
    assert_eq!(security("/heroes", "post"), requires("Heroes.Write"));
    assert_eq!(security("/heroes", "get"), requires("Heroes.Read"));
    assert_eq!(security("/heroes/{id}", "get"), requires("Heroes.Read"));
    assert_eq!(
        security("/heroes/{id}", "delete"),
        requires("Heroes.Delete")
    );
    for (path, method) in [
        ("/todoitems", "get"),
        ("/todoitems", "post"),
        ("/todoitems", "delete"),
        ("/todoitems/{id}", "get"),
        ("/todoitems/{id}", "delete"),
    ] {
        assert_eq!(
            security(path, method),
            json!([{ "entra": [] }]),
            "{method} {path}"
        );
        let responses = &doc["paths"][path][method]["responses"];
        assert!(
            responses["401"].is_object() && responses["403"].is_object(),
            "{method} {path}"
        );
    }
    // Public routes need nothing; protected ones document their failures.
    assert!(doc["paths"]["/health"]["get"]["security"].is_null());
    assert!(doc["paths"]["/"]["get"].is_object());
    let create = &doc["paths"]["/heroes"]["post"]["responses"];
    for status in ["201", "400", "401", "403", "413", "415", "422"] {
        assert!(create[status].is_object(), "POST /heroes {status}");
    }
    assert!(doc["components"]["schemas"]["Hero"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let new_hero = &doc["components"]["schemas"]["NewHero"];
    assert_eq!(
        new_hero["required"],
        json!(["name", "secret_name"]),
        "{new_hero}"
    );

    // Swagger UI, and its initializer carrying the PKCE sign-in.
    let page = h.get("/docs/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let redirect = h.get("/docs", None).await;
    assert!(matches!(redirect.status, 301..=308));
    let init = h.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(init.status, 200);
    let script = &init.text;
    assert!(script.contains("/openapi.json"), "{script}");
    assert!(script.contains("ui.initOAuth"), "{script}");
    assert!(
        script.contains("\"usePkceWithAuthorizationCodeGrant\": true"),
        "{script}"
    );
    assert!(
        script.contains(&format!("\"clientId\": \"{SWAGGER}\"")),
        "{script}"
    );
    assert!(
        script.contains(&format!("{API_URI}/Heroes.Read")),
        "{script}"
    );
    assert!(
        !script.contains("clientSecret"),
        "a SPA has no secret: {script}"
    );
    // The redirect page the SPA registration names.
    let redirect_page = h.get("/docs/oauth2-redirect.html", None).await;
    assert_eq!(redirect_page.status, 200);
    assert!(
        redirect_page.text.contains("oauth2"),
        "{}",
        redirect_page.text
    );
}
