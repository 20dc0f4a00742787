//! Issue 16, item 6, in the web app: an Admin sees whose todo items they
//! are, a refused form is the same page again with its input kept and the
//! reasons beside it, and `/me/tokens` shows times as dates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

#[tokio::test]
async fn an_admin_sees_the_owner_of_each_todo_item() {
    let stack = stack().await;
    let bob = Browser::new();
    bob.sign_in_as(&stack, BOB, BOB_PASSWORD).await;
    let home = bob.home(&stack).await;
    let added = bob
        .submit(home.form_to("/todoitems"), &[("title", "Bob's chore")])
        .await;
    assert_eq!(added.status, 303);
    // Bob (not an Admin) sees his own items, without owners.
    let home = bob.home(&stack).await;
    assert!(home.body.contains("Bob&#x27;s chore"), "{}", home.body);
    assert!(!home.body.contains("todo-owner"), "{}", home.body);

    let alice = Browser::new();
    let home = alice.sign_in(&stack).await;
    alice
        .submit(home.form_to("/todoitems"), &[("title", "Alice's chore")])
        .await;
    let home = alice.home(&stack).await;
    let item = |title: &str| {
        let escaped = title.replace('\'', "&#x27;");
        let at = home
            .body
            .find(&escaped)
            .or_else(|| home.body.find(title))
            .unwrap_or_else(|| panic!("no {title} in {}", home.body));
        let rest = &home.body[at..];
        rest[..rest.find("</li>").unwrap()].to_owned()
    };
    assert!(item("Alice's chore").contains("(yours)"), "{}", home.body);
    let bobs = item("Bob's chore");
    assert!(
        bobs.contains("todo-owner") && bobs.contains("(user "),
        "{bobs}"
    );
    assert!(!bobs.contains("(yours)"), "{bobs}");
}

#[tokio::test]
async fn a_refused_form_keeps_its_input_and_shows_why_on_the_same_page() {
    let stack = stack().await;
    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    let refused = browser
        .submit(
            home.form_to("/heroes"),
            &[
                ("name", "   "),
                ("secret_name", "Wade <Wilson>"),
                ("age", "-4"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    // The start page, signed in, with the form again.
    assert!(refused.is_signed_in_home(), "{}", refused.body);
    assert!(
        refused.body.contains("id=\"create-hero-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("<strong>age</strong>"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Wade &lt;Wilson&gt;\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"-4\""), "{}", refused.body);
    // Submitted from the page it came back on, it works.
    let fixed = browser
        .submit(
            refused.form_to("/heroes"),
            &[("name", "Deadpool"), ("secret_name", "Wade Wilson")],
        )
        .await;
    assert_eq!(fixed.status, 303, "{}", fixed.body);

    let long = "x".repeat(201);
    let refused = browser
        .submit(home.form_to("/todoitems"), &[("title", &long)])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"create-todo-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(&format!("value=\"{long}\"")));
    assert!(!refused.body.contains("id=\"create-hero-error\""));
}

#[tokio::test]
async fn me_tokens_shows_times_as_dates() {
    let stack = stack().await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let page = browser.get(&stack.url("/me/tokens")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for id in ["id-token-times", "access-token-times"] {
        let list = page
            .body
            .split(&format!("<ul id=\"{id}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {id} in {}", page.body));
        let list = &list[..list.find("</ul>").unwrap()];
        for claim in ["iat", "exp"] {
            assert!(
                list.contains(&format!("data-claim=\"{claim}\"")),
                "{id} {claim}: {list}"
            );
        }
        assert!(list.contains(" UTC ("), "{list}");
    }
    // The expiry line is a date, not a Unix time.
    let expires = page.body.split("<span id=\"expires\">").nth(1).unwrap();
    let expires = &expires[..expires.find("</span>").unwrap()];
    assert!(expires.contains(" UTC (in "), "{expires}");
    assert!(expires.starts_with("20"), "{expires}");
}
